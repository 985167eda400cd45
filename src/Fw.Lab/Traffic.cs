using System.Buffers.Binary;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace Fw.Lab;

/// <summary>
/// A TCP exchange: connect, send <see cref="Sent"/>, half-close; the server echoes what it read and closes.
/// </summary>
/// <param name="ServerSaw">The client's address and port as the server's accept saw it; null if nothing was accepted.</param>
/// <param name="Error">Why it stopped short (a timeout, a refusal), or null.</param>
public sealed record TcpResult(
    IPEndPoint From, IPEndPoint To, bool Connected, byte[] Sent, byte[] ServerReceived, byte[] Echoed,
    IPEndPoint? ServerSaw, string? Error, TimeSpan Took)
{
    /// <summary>The handshake completed and the data went to the server and came back whole.</summary>
    public bool Delivered => Connected && ServerReceived.AsSpan().SequenceEqual(Sent) && Echoed.AsSpan().SequenceEqual(Sent);

    public override string ToString() => Delivered
        ? $"connected in {Took.TotalMilliseconds:0.0} ms, {Sent.Length} bytes sent and echoed back"
        : Connected ? $"connected, but {ServerReceived.Length} of {Sent.Length} bytes arrived and {Echoed.Length} came back ({Error})"
        : $"no connection: {Error}";
}

/// <summary>One UDP datagram and what the receiving socket got.</summary>
public sealed record UdpResult(IPEndPoint From, IPEndPoint To, bool Arrived, byte[] Sent, byte[] Received, IPEndPoint? ReceivedFrom, TimeSpan Took)
{
    public bool Delivered => Arrived && Received.AsSpan().SequenceEqual(Sent);

    public override string ToString() => Arrived
        ? $"{Received.Length}-byte datagram received from {ReceivedFrom}"
        : $"nothing received within {Took.TotalSeconds:0.0} s";
}

/// <summary>One ICMP or ICMPv6 echo request and its reply, if one came.</summary>
public sealed record PingResult(IPAddress From, IPAddress To, bool Replied, TimeSpan Took)
{
    public override string ToString() => Replied
        ? $"echo reply in {Took.TotalMilliseconds:0.0} ms"
        : $"no echo reply within {Took.TotalSeconds:0.0} s";
}

// Real sockets between the lab's namespaces: each socket is created inside the namespace that owns its
// address (Lab.Owner), then used from this thread. Every wait is bounded by the timeout given.
public sealed partial class Lab
{
    /// <summary>How long traffic waits for what should arrive, unless told otherwise.</summary>
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(2);

    private static readonly byte[] DefaultData = "fw lab: hello through the firewall\n"u8.ToArray();

    /// <summary>
    /// A TCP connection from <paramref name="src"/> to <paramref name="dst"/>:<paramref name="port"/>, a server
    /// listening there for this call only, that echoes what it reads.
    /// </summary>
    public TcpResult Tcp(IPAddress src, IPAddress dst, int port, byte[]? data = null, TimeSpan? timeout = null, int srcPort = 0)
    {
        data ??= DefaultData;
        var wait = timeout ?? DefaultTimeout;
        var to = new IPEndPoint(dst, port);
        using var listener = Owner(dst).Socket(dst.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        listener.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
        listener.Bind(to);
        listener.Listen(4);
        using var client = Owner(src).Socket(src.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        client.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
        client.Bind(new IPEndPoint(src, srcPort));
        var from = (IPEndPoint)client.LocalEndPoint!;

        using var cts = new CancellationTokenSource(wait);
        var server = Task.Run(async () =>
        {
            using var conn = await listener.AcceptAsync(cts.Token);
            var peer = (IPEndPoint)conn.RemoteEndPoint!;
            byte[] got = await ReadToEnd(conn, cts.Token);
            await conn.SendAsync(got, SocketFlags.None, cts.Token);
            conn.Shutdown(SocketShutdown.Both);
            return (peer, got);
        });

        var sw = Stopwatch.StartNew();
        bool connected = false;
        byte[] echoed = [];
        string? error = null;
        try
        {
            client.ConnectAsync(to, cts.Token).AsTask().GetAwaiter().GetResult();
            connected = true;
            client.Send(data);
            client.Shutdown(SocketShutdown.Send);
            echoed = ReadToEnd(client, cts.Token).GetAwaiter().GetResult();
        }
        catch (OperationCanceledException)
        {
            error = $"timed out after {wait.TotalSeconds:0.0} s";
        }
        catch (SocketException e)
        {
            error = e.SocketErrorCode.ToString();
        }
        var took = sw.Elapsed;

        IPEndPoint? saw = null;
        byte[] serverGot = [];
        try
        {
            if (server.Wait(wait))
                (saw, serverGot) = server.Result;
        }
        catch (AggregateException e) when (e.InnerException is OperationCanceledException or SocketException)
        {
            // Nothing accepted (or the exchange broke off): the result says what the client saw.
        }
        cts.Cancel();
        return new TcpResult(from, to, connected, data, serverGot, echoed, saw, error, took);
    }

    /// <summary>One datagram from <paramref name="src"/>:<paramref name="srcPort"/> to a socket bound to <paramref name="dst"/>:<paramref name="dstPort"/>.</summary>
    public UdpResult Udp(IPAddress src, int srcPort, IPAddress dst, int dstPort, byte[]? payload = null, TimeSpan? timeout = null)
    {
        payload ??= DefaultData;
        var wait = timeout ?? DefaultTimeout;
        var to = new IPEndPoint(dst, dstPort);
        using var receiver = Owner(dst).Socket(dst.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
        receiver.Bind(to);
        using var sender = Owner(src).Socket(src.AddressFamily, SocketType.Dgram, ProtocolType.Udp);
        sender.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
        sender.Bind(new IPEndPoint(src, srcPort));
        var from = (IPEndPoint)sender.LocalEndPoint!;

        var sw = Stopwatch.StartNew();
        sender.SendTo(payload, to);
        var buffer = new byte[65536];
        if (!receiver.Poll(wait, SelectMode.SelectRead))
            return new UdpResult(from, to, false, payload, [], null, sw.Elapsed);
        EndPoint remote = new IPEndPoint(dst.AddressFamily == AddressFamily.InterNetwork ? IPAddress.Any : IPAddress.IPv6Any, 0);
        int n = receiver.ReceiveFrom(buffer, ref remote);
        return new UdpResult(from, to, true, payload, buffer[..n], (IPEndPoint)remote, sw.Elapsed);
    }

    /// <summary>
    /// An ICMP (IPv4) or ICMPv6 echo request from <paramref name="src"/> to <paramref name="dst"/>, over a raw
    /// socket; the receiving kernel answers. Replied: the matching echo reply came back in time.
    /// </summary>
    public PingResult Ping(IPAddress src, IPAddress dst, TimeSpan? timeout = null, int payloadBytes = 32)
    {
        var wait = timeout ?? DefaultTimeout;
        bool v6 = src.AddressFamily == AddressFamily.InterNetworkV6;
        using var s = Owner(src).Socket(src.AddressFamily, SocketType.Raw, v6 ? ProtocolType.IcmpV6 : ProtocolType.Icmp);
        s.Bind(new IPEndPoint(src, 0));
        ushort id = (ushort)Random.Shared.Next(1, 65536);
        const ushort seq = 1;

        // type, code, checksum, identifier, sequence (network byte order), payload. ICMPv6's checksum
        // covers a pseudo-header: the kernel fills it in on raw ICMPv6 sockets.
        var request = new byte[8 + payloadBytes];
        request[0] = v6 ? (byte)128 : (byte)8;
        BinaryPrimitives.WriteUInt16BigEndian(request.AsSpan(4), id);
        BinaryPrimitives.WriteUInt16BigEndian(request.AsSpan(6), seq);
        for (int i = 8; i < request.Length; i++)
            request[i] = (byte)i;
        if (!v6)
            BinaryPrimitives.WriteUInt16BigEndian(request.AsSpan(2), InternetChecksum(request));

        var sw = Stopwatch.StartNew();
        s.SendTo(request, new IPEndPoint(dst, 0));
        var buffer = new byte[65536];
        while (sw.Elapsed < wait)
        {
            if (!s.Poll(wait - sw.Elapsed, SelectMode.SelectRead))
                break;
            EndPoint remote = new IPEndPoint(v6 ? IPAddress.IPv6Any : IPAddress.Any, 0);
            int n = s.ReceiveFrom(buffer, ref remote);
            // A raw IPv4 socket hands over the IP header too; a raw IPv6 socket does not.
            int at = v6 ? 0 : (buffer[0] & 0xf) * 4;
            if (n < at + 8 || !((IPEndPoint)remote).Address.Equals(dst))
                continue;
            bool reply = buffer[at] == (v6 ? 129 : 0)
                && BinaryPrimitives.ReadUInt16BigEndian(buffer.AsSpan(at + 4)) == id
                && BinaryPrimitives.ReadUInt16BigEndian(buffer.AsSpan(at + 6)) == seq;
            if (reply)
                return new PingResult(src, dst, true, sw.Elapsed);
        }
        return new PingResult(src, dst, false, sw.Elapsed);
    }

    private static async Task<byte[]> ReadToEnd(Socket s, CancellationToken ct)
    {
        var all = new MemoryStream();
        var buffer = new byte[16384];
        while (true)
        {
            int n = await s.ReceiveAsync(buffer, SocketFlags.None, ct);
            if (n == 0)
                return all.ToArray();
            all.Write(buffer, 0, n);
        }
    }

    /// <summary>RFC 1071: the ones' complement of the ones' complement sum of 16-bit words.</summary>
    private static ushort InternetChecksum(ReadOnlySpan<byte> data)
    {
        uint sum = 0;
        for (int i = 0; i + 1 < data.Length; i += 2)
            sum += BinaryPrimitives.ReadUInt16BigEndian(data[i..]);
        if ((data.Length & 1) != 0)
            sum += (uint)data[^1] << 8;
        while (sum >> 16 != 0)
            sum = (sum & 0xffff) + (sum >> 16);
        return (ushort)~sum;
    }
}
