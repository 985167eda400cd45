using Fw.Bpf;
using System.Diagnostics;
using Fw.Packets;

namespace Fw.Lab;

/// <summary>A frame a capture saw arrive, with its parse.</summary>
public sealed record CapturedFrame(byte[] Bytes, DateTime At)
{
    public ParsedFrame Parsed { get; } = FrameParser.Parse(Bytes);

    public override string ToString() => Parsed.ToString();
}

/// <summary>Which frames a <see cref="PacketSocket"/> receives.</summary>
public enum CaptureDirection
{
    /// <summary>Frames that arrive on the interface.</summary>
    Arriving,

    /// <summary>Frames the interface's own namespace sends out of it (its sockets, other packet sockets).</summary>
    Leaving,
}

/// <summary>
/// An AF_PACKET socket bound to one interface of one namespace: <see cref="Send"/> puts a raw Ethernet
/// frame on the wire as it is (what sockets cannot make: any flags, fragments, tags, broken headers);
/// <see cref="Receive"/> returns the frames that arrived on the interface (or, opened with
/// <see cref="CaptureDirection.Leaving"/>, those that left it; never the ones this socket sent itself), in
/// order, from the moment the socket was opened. Every wait is bounded.
/// </summary>
public sealed unsafe class PacketSocket : IDisposable
{
    private const int MaxFrame = 65536;
    private readonly FdHandle _fd;

    private PacketSocket(FdHandle fd, Netns ns, string iface, CaptureDirection direction)
    {
        _fd = fd;
        Namespace = ns;
        Interface = iface;
        Direction = direction;
    }

    public Netns Namespace { get; }
    public string Interface { get; }
    public CaptureDirection Direction { get; }

    /// <summary>Opens the socket inside <paramref name="ns"/>, bound to <paramref name="iface"/>, receiving every protocol.</summary>
    public static PacketSocket Open(Netns ns, string iface, CaptureDirection direction = CaptureDirection.Arriving) => ns.Run(() =>
    {
        // Protocol 0 until bound: the socket sees nothing from other interfaces in between.
        var fd = new FdHandle(BpfException.CheckFd(Interop.socket(Interop.AfPacket, Interop.SockRaw | Interop.SockCloexec, 0),
            $"{ns}: open AF_PACKET socket"));
        try
        {
            var addr = new Interop.SockaddrLl
            {
                Family = Interop.AfPacket,
                Protocol = (ushort)System.Net.IPAddress.HostToNetworkOrder((short)Interop.EthPAll),
                Ifindex = NetInterface.Index(iface),
            };
            BpfException.CheckFd(Interop.bind(fd.Fd, addr, sizeof(Interop.SockaddrLl)), $"{ns}: bind AF_PACKET socket to {iface}");
            return new PacketSocket(fd, ns, iface, direction);
        }
        catch
        {
            fd.Dispose();
            throw;
        }
    });

    public void Send(ReadOnlySpan<byte> frame)
    {
        fixed (byte* p = frame)
        {
            nint n = Interop.send(_fd.Fd, p, (nuint)frame.Length, 0);
            if (n < 0)
                throw new BpfException($"{Namespace}: send a {frame.Length}-byte frame on {Interface}", System.Runtime.InteropServices.Marshal.GetLastPInvokeError());
        }
    }

    public void Send(Frame frame) => Send(frame.Build());

    /// <summary>The next frame that arrives within <paramref name="timeout"/>, or null.</summary>
    public CapturedFrame? Receive(TimeSpan timeout)
    {
        var sw = Stopwatch.StartNew();
        var buffer = new byte[MaxFrame];
        while (true)
        {
            int left = (int)Math.Max(0, (timeout - sw.Elapsed).TotalMilliseconds);
            var pfd = new Interop.PollFd { Fd = _fd.Fd, Events = Interop.PollIn };
            int ready = Interop.poll(&pfd, 1, left);
            if (ready < 0)
            {
                int errno = System.Runtime.InteropServices.Marshal.GetLastPInvokeError();
                if (errno == Interop.Eintr)
                    continue;
                throw new BpfException($"{Namespace}: poll the capture on {Interface}", errno);
            }
            if (ready == 0)
                return null;
            int addrLen = sizeof(Interop.SockaddrLl);
            nint n;
            Interop.SockaddrLl from;
            fixed (byte* p = buffer)
                n = Interop.recvfrom(_fd.Fd, p, (nuint)buffer.Length, 0, out from, ref addrLen);
            if (n < 0)
            {
                int errno = System.Runtime.InteropServices.Marshal.GetLastPInvokeError();
                if (errno is Interop.Eintr or Interop.Enetdown)
                    continue;   // ENETDOWN: the interface was down when bound or went down since; reading clears it
                throw new BpfException($"{Namespace}: receive on {Interface}", errno);
            }
            if ((from.Pkttype == Interop.PacketOutgoing) != (Direction == CaptureDirection.Leaving))
                continue;
            return new CapturedFrame(buffer[..(int)n], DateTime.UtcNow);
        }
    }

    /// <summary>The first arriving frame that <paramref name="match"/> accepts within <paramref name="timeout"/>, or null.</summary>
    public CapturedFrame? WaitFor(Func<CapturedFrame, bool> match, TimeSpan timeout)
    {
        var sw = Stopwatch.StartNew();
        while (sw.Elapsed < timeout)
        {
            var f = Receive(timeout - sw.Elapsed);
            if (f is null)
                return null;
            if (match(f))
                return f;
        }
        return null;
    }

    /// <summary>Every frame that arrives during <paramref name="duration"/> (and <paramref name="match"/> accepts).</summary>
    public List<CapturedFrame> Collect(TimeSpan duration, Func<CapturedFrame, bool>? match = null)
    {
        var sw = Stopwatch.StartNew();
        var got = new List<CapturedFrame>();
        while (sw.Elapsed < duration)
        {
            var f = Receive(duration - sw.Elapsed);
            if (f is null)
                break;
            if (match is null || match(f))
                got.Add(f);
        }
        return got;
    }

    /// <summary>
    /// Every frame each of <paramref name="sockets"/> receives until none has received one for
    /// <paramref name="quietFor"/>, one list per socket; null when they were still busy after
    /// <paramref name="within"/>.
    /// </summary>
    public static List<CapturedFrame>[]? CollectUntilQuiet(IReadOnlyList<PacketSocket> sockets, TimeSpan quietFor, TimeSpan within)
    {
        var got = sockets.Select(_ => new List<CapturedFrame>()).ToArray();
        var sw = Stopwatch.StartNew();
        var lastSeen = TimeSpan.Zero;
        while (sw.Elapsed - lastSeen < quietFor)
        {
            if (sw.Elapsed > within)
                return null;
            for (int i = 0; i < sockets.Count; i++)
            {
                while (sockets[i].Receive(TimeSpan.Zero) is { } f)
                {
                    got[i].Add(f);
                    lastSeen = sw.Elapsed;
                }
            }
            Thread.Sleep(10);
        }
        return got;
    }

    public void Dispose() => _fd.Dispose();
}
