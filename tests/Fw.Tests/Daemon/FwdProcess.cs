using System.Diagnostics;
using System.Net.Sockets;
using System.Reflection;
using System.Text;

namespace Fw.Tests.Daemon;

/// <summary>
/// The built fwd binary run as a real process (src/fwd/bin/CONFIG/net10.0/fwd, CONFIG being the one this
/// test assembly was built with): its output collected line by line, signals, bounded waits, and an
/// optional NOTIFY_SOCKET it reports to as it would to systemd. Dispose kills it if it still runs.
/// </summary>
public sealed class FwdProcess : IDisposable
{
    private readonly Process _process;
    private readonly List<string> _lines = [];
    private readonly Lock _lock = new();
    private readonly Socket? _notify;
    private readonly string? _notifyPath;

    public FwdProcess(IEnumerable<string> args, bool notifySocket = false)
    {
        var psi = new ProcessStartInfo(Binary)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string a in args)
            psi.ArgumentList.Add(a);
        psi.Environment.Remove("NOTIFY_SOCKET");
        psi.Environment.Remove("JOURNAL_STREAM");
        if (notifySocket)
        {
            _notifyPath = Path.Combine(Path.GetTempPath(), $"fwd-notify-{Environment.ProcessId}-{Guid.NewGuid():N}.sock");
            _notify = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
            _notify.Bind(new UnixDomainSocketEndPoint(_notifyPath));
            psi.Environment["NOTIFY_SOCKET"] = _notifyPath;
        }
        _process = new Process { StartInfo = psi };
        _process.OutputDataReceived += (_, e) => Add(e.Data);
        _process.ErrorDataReceived += (_, e) => Add(e.Data);
        _process.Start();
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
    }

    public static string Binary
    {
        get
        {
            string config = typeof(FwdProcess).Assembly.GetCustomAttribute<AssemblyConfigurationAttribute>()?.Configuration ?? "Debug";
            string path = Path.Combine(RepoRoot, "src", "fwd", "bin", config, "net10.0", "fwd");
            return File.Exists(path) ? path : throw new FileNotFoundException($"fwd is not built ({path}); run dotnet build firewall.sln -c {config}");
        }
    }

    public static string RepoRoot
    {
        get
        {
            var dir = new DirectoryInfo(AppContext.BaseDirectory);
            while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "firewall.sln")))
                dir = dir.Parent;
            return dir?.FullName ?? throw new DirectoryNotFoundException("repository root (firewall.sln) not found");
        }
    }

    public int Pid => _process.Id;

    public bool HasExited => _process.HasExited;

    /// <summary>Everything fwd printed so far (stdout and stderr interleaved as received).</summary>
    public string Output
    {
        get
        {
            lock (_lock)
                return string.Join("\n", _lines);
        }
    }

    public int LineCount
    {
        get
        {
            lock (_lock)
                return _lines.Count;
        }
    }

    private void Add(string? line)
    {
        if (line is null)
            return;
        lock (_lock)
            _lines.Add(line);
    }

    /// <summary>Waits until a line after the first <paramref name="from"/> lines contains <paramref name="text"/>.</summary>
    public string WaitForLine(string text, TimeSpan timeout, int from = 0)
    {
        var deadline = Stopwatch.StartNew();
        while (deadline.Elapsed < timeout)
        {
            lock (_lock)
            {
                for (int i = from; i < _lines.Count; i++)
                {
                    if (_lines[i].Contains(text, StringComparison.Ordinal))
                        return _lines[i];
                }
            }
            if (_process.HasExited && deadline.Elapsed > TimeSpan.FromMilliseconds(200))
                throw new Xunit.Sdk.XunitException($"fwd exited ({_process.ExitCode}) before printing '{text}':\n{Output}");
            Thread.Sleep(10);
        }
        throw new Xunit.Sdk.XunitException($"fwd did not print '{text}' within {timeout.TotalSeconds} s:\n{Output}");
    }

    /// <summary>Waits until the output holds <paramref name="text"/> (several lines, e.g. diagnostics, may arrive apart).</summary>
    public void WaitForText(string text, TimeSpan timeout)
    {
        var sw = Stopwatch.StartNew();
        while (sw.Elapsed < timeout)
        {
            if (Output.Contains(text, StringComparison.Ordinal))
                return;
            Thread.Sleep(10);
        }
        throw new Xunit.Sdk.XunitException($"fwd did not print within {timeout.TotalSeconds} s:\n{text}\n--- it printed:\n{Output}");
    }

    /// <summary>The fwd start line ("ready: ..."): the data plane is live.</summary>
    public string WaitReady() => WaitForLine("ready: ", TimeSpan.FromSeconds(30));

    /// <summary>The next sd_notify datagram, or null when none arrives in time.</summary>
    public string? ReceiveNotify(TimeSpan timeout)
    {
        if (_notify is null)
            throw new InvalidOperationException("started without a notify socket");
        if (!_notify.Poll(timeout, SelectMode.SelectRead))
            return null;
        var buf = new byte[4096];
        int n = _notify.Receive(buf);
        return Encoding.UTF8.GetString(buf, 0, n);
    }

    /// <summary>Datagrams until one containing <paramref name="text"/> (returned), within the timeout.</summary>
    public string ReceiveNotifyUntil(string text, TimeSpan timeout)
    {
        var sw = Stopwatch.StartNew();
        var seen = new List<string>();
        while (sw.Elapsed < timeout)
        {
            string? m = ReceiveNotify(timeout - sw.Elapsed);
            if (m is null)
                break;
            if (m.Contains(text, StringComparison.Ordinal))
                return m;
            seen.Add(m);
        }
        throw new Xunit.Sdk.XunitException($"no sd_notify message with '{text}' within {timeout.TotalSeconds} s; got: [{string.Join(" | ", seen)}]\n{Output}");
    }

    public void Signal(int signal)
    {
        if (Kill(_process.Id, signal) != 0)
            throw new InvalidOperationException($"kill({_process.Id}, {signal}) failed");
    }

    public const int SigHup = 1, SigKill = 9, SigTerm = 15;

    /// <summary>Waits for the exit (bounded) and returns the exit code.</summary>
    public int WaitForExit(TimeSpan timeout)
    {
        if (!_process.WaitForExit(timeout))
            throw new Xunit.Sdk.XunitException($"fwd still runs after {timeout.TotalSeconds} s:\n{Output}");
        _process.WaitForExit();   // drains the output readers
        return _process.ExitCode;
    }

    public void Dispose()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill(entireProcessTree: true);
                _process.WaitForExit(10_000);
            }
        }
        catch (InvalidOperationException)
        {
        }
        _process.Dispose();
        _notify?.Dispose();
        if (_notifyPath is not null)
            File.Delete(_notifyPath);
    }

    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static extern int Kill(int pid, int sig);
}
