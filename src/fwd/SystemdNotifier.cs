using System.Diagnostics;
using System.Net.Sockets;
using System.Text;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Fw.Daemon;

/// <summary>
/// sd_notify(3) without libsystemd: one datagram of "KEY=VALUE" lines to the socket systemd names in
/// NOTIFY_SOCKET (a path, or "@name" for the abstract namespace). Does nothing outside systemd.
/// </summary>
public sealed class SystemdNotifier : IDisposable
{
    private readonly Socket? _socket;
    private readonly UnixDomainSocketEndPoint? _endpoint;
    private readonly ILogger<SystemdNotifier> _log;
    private readonly Lock _lock = new();

    public SystemdNotifier(ILogger<SystemdNotifier> log)
        : this(Environment.GetEnvironmentVariable("NOTIFY_SOCKET"), log)
    {
    }

    public SystemdNotifier(string? notifySocket, ILogger<SystemdNotifier> log)
    {
        _log = log;
        if (string.IsNullOrEmpty(notifySocket))
            return;
        string path = notifySocket[0] == '@' ? "\0" + notifySocket[1..] : notifySocket;
        _endpoint = new UnixDomainSocketEndPoint(path);
        _socket = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
    }

    public bool Enabled => _socket is not null;

    public void Ready(string status) => Send($"READY=1\nSTATUS={OneLine(status)}");

    /// <summary>A reload begins; systemd shows "reloading" until the next READY=1.</summary>
    public void Reloading(string status) =>
        Send($"RELOADING=1\nMONOTONIC_USEC={MonotonicMicroseconds()}\nSTATUS={OneLine(status)}");

    public void Stopping(string status) => Send($"STOPPING=1\nSTATUS={OneLine(status)}");

    public void Status(string status) => Send($"STATUS={OneLine(status)}");

    private void Send(string message)
    {
        if (_socket is null)
            return;
        try
        {
            lock (_lock)
                _socket.SendTo(Encoding.UTF8.GetBytes(message), _endpoint!);
        }
        catch (SocketException e)
        {
            _log.LogWarning("sd_notify {Socket}: {Error}", _endpoint, e.Message);
        }
    }

    private static string OneLine(string s) => s.ReplaceLineEndings(" ");

    /// <summary>CLOCK_MONOTONIC in µs, as systemd wants beside RELOADING=1 (Stopwatch reads that clock on Linux).</summary>
    private static long MonotonicMicroseconds() =>
        (long)(Stopwatch.GetTimestamp() * (1_000_000.0 / Stopwatch.Frequency));

    public void Dispose() => _socket?.Dispose();
}

/// <summary>
/// READY=1 once the host has started, that is after <see cref="FirewallService.StartAsync"/> made the data
/// plane live; STOPPING=1 as soon as a stop begins.
/// </summary>
internal sealed class SystemdLifetime(SystemdNotifier notifier, DaemonStatus status, IHostApplicationLifetime lifetime) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken)
    {
        lifetime.ApplicationStarted.Register(() => notifier.Ready(status.Summary()));
        lifetime.ApplicationStopping.Register(() => notifier.Stopping("stopping"));
        return Task.CompletedTask;
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
