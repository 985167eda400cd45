using System.Net;
using System.Net.Sockets;

namespace Fw.Tests.Lab;

/// <summary>
/// A TCP connection through the lab that stays open (<see cref="Fw.Lab.Lab.Tcp"/> opens, exchanges and closes in one
/// call): opened from <c>from</c> to a listener at <c>to</c>, in the namespaces that own those addresses, whose
/// accepted end echoes every byte back until the connection closes. For tests that do things to the firewall
/// between exchanges of one connection (a kill -9 of fwd, an ICMP error about it).
/// </summary>
internal sealed class EchoConnection : IDisposable
{
    private readonly Socket _listener, _client;
    private readonly Socket _accepted;
    private readonly Task _echo;
    private readonly CancellationTokenSource _stop = new();

    private EchoConnection(Socket listener, Socket client, Socket accepted)
    {
        _listener = listener;
        _client = client;
        _accepted = accepted;
        Local = (IPEndPoint)client.LocalEndPoint!;
        Remote = (IPEndPoint)client.RemoteEndPoint!;
        _echo = Task.Run(async () =>
        {
            var buffer = new byte[16384];
            try
            {
                while (true)
                {
                    int n = await _accepted.ReceiveAsync(buffer, SocketFlags.None, _stop.Token);
                    if (n == 0)
                        return;
                    await _accepted.SendAsync(buffer.AsMemory(0, n), SocketFlags.None, _stop.Token);
                }
            }
            catch (Exception e) when (e is OperationCanceledException or SocketException or ObjectDisposedException)
            {
            }
        });
    }

    /// <summary>The connecting end (its address and port are what a packet of the flow leaving from there carries).</summary>
    public IPEndPoint Local { get; }

    /// <summary>The echoing end.</summary>
    public IPEndPoint Remote { get; }

    /// <summary>Connects within <paramref name="timeout"/> or throws, saying so.</summary>
    public static EchoConnection Open(Fw.Lab.Lab lab, IPAddress from, IPAddress to, int port, TimeSpan timeout)
    {
        var listener = lab.Owner(to).Socket(to.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
        Socket? client = null;
        try
        {
            listener.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, true);
            listener.Bind(new IPEndPoint(to, port));
            listener.Listen(1);
            client = lab.Owner(from).Socket(from.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
            client.Bind(new IPEndPoint(from, 0));
            using var cts = new CancellationTokenSource(timeout);
            var accept = listener.AcceptAsync(cts.Token).AsTask();
            try
            {
                client.ConnectAsync(new IPEndPoint(to, port), cts.Token).AsTask().GetAwaiter().GetResult();
                var accepted = accept.GetAwaiter().GetResult();
                return new EchoConnection(listener, client, accepted);
            }
            catch (Exception e) when (e is OperationCanceledException or SocketException)
            {
                throw new Xunit.Sdk.XunitException($"TCP {from} -> {to}:{port}: no connection within {timeout.TotalSeconds:0.#} s ({e.Message})");
            }
        }
        catch
        {
            client?.Dispose();
            listener.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Sends <paramref name="data"/> and reads as many bytes back within <paramref name="timeout"/>: null when they
    /// came back whole, else what went wrong.
    /// </summary>
    public string? Echo(byte[] data, TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        var got = new MemoryStream();
        try
        {
            _client.Send(data);
            var buffer = new byte[16384];
            while (got.Length < data.Length)
            {
                int n = _client.ReceiveAsync(buffer, SocketFlags.None, cts.Token).AsTask().GetAwaiter().GetResult();
                if (n == 0)
                    return $"closed after {got.Length} of {data.Length} bytes came back";
                got.Write(buffer, 0, n);
            }
        }
        catch (Exception e) when (e is OperationCanceledException or SocketException)
        {
            return $"{got.Length} of {data.Length} bytes came back within {timeout.TotalSeconds:0.#} s ({e.GetType().Name}: {e.Message})";
        }
        return got.ToArray().AsSpan().SequenceEqual(data) ? null : "the bytes that came back differ";
    }

    public override string ToString() => $"TCP {Local} -> {Remote}";

    public void Dispose()
    {
        _stop.Cancel();
        _client.Dispose();
        _accepted.Dispose();
        _listener.Dispose();
        try
        {
            _echo.Wait(TimeSpan.FromSeconds(5));
        }
        catch (AggregateException)
        {
        }
        _stop.Dispose();
    }
}
