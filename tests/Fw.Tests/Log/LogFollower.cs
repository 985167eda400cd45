using System.Text.Json;
using Fw.Kernel;
using Fw.Lab;
using Fw.Tests.Cli;

namespace Fw.Tests.Log;

/// <summary>
/// `fwctl log ARGS` run in this process on a thread inside a namespace (fwctl's output captured, as
/// <see cref="Fwctl.Run"/> does), started before the frames it should see are sent: <see cref="Start"/> returns
/// once fwctl holds the interface's reader lock (its ring is open).
/// </summary>
internal sealed class LogFollower
{
    private readonly Task<(int Exit, string Out, string Err)> _run;

    private LogFollower(Task<(int, string, string)> run) => _run = run;

    /// <summary>Starts `fwctl log` in <paramref name="ns"/> and waits (at most 20 s) until it reads <paramref name="iface"/>'s log.</summary>
    public static LogFollower Start(Netns ns, string iface, params string[] args)
    {
        var run = Task.Factory.StartNew(() => ns.Run(() => Fwctl.Run(["log", iface, .. args]), TimeSpan.FromMinutes(3)),
            TaskCreationOptions.LongRunning);
        var follower = new LogFollower(run);
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (!ReaderHeld(iface))
        {
            if (run.IsCompleted)
                throw new InvalidOperationException($"fwctl log {iface} ended before it read: {run.Result}");
            if (DateTime.UtcNow > deadline)
                throw new TimeoutException($"fwctl log {iface} did not open the log within 20 s");
            Thread.Sleep(20);
        }
        return follower;
    }

    /// <summary>fwctl's exit code and output, once it stopped by itself (--count, --seconds) within <paramref name="timeout"/>.</summary>
    public (int Exit, string Out, string Err) Wait(TimeSpan timeout)
    {
        if (!_run.Wait(timeout))
            throw new TimeoutException($"fwctl log did not end within {timeout.TotalSeconds:0} s");
        return _run.Result;
    }

    /// <summary>Whether some process holds the flock of the interface's reader lock file (/proc/locks names its inode).</summary>
    private static bool ReaderHeld(string iface)
    {
        string path = PacketLog.ReaderLockPath(iface);
        if (!File.Exists(path))
            return false;
        string inode = Command.Run("stat", "-c", "%i", path).Check().Stdout.Trim();
        return File.ReadLines("/proc/locks").Any(l => l.Contains(" FLOCK ") && l.Split(' ', StringSplitOptions.RemoveEmptyEntries)
            .Any(f => f.EndsWith(":" + inode, StringComparison.Ordinal)));
    }

    /// <summary>The --json lines as documents.</summary>
    public static List<JsonElement> JsonLines(string stdout) =>
        stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonDocument.Parse(l).RootElement.Clone()).ToList();
}
