using System.CommandLine;
using System.Diagnostics;
using Fw.Control;
using Fw.Kernel;

namespace Fw.Cli;

/// <summary>
/// fwctl confirm / revert: keep or undo a reload made with --confirm SECONDS; and the timer that reverts it at the
/// deadline (a hidden command run in a session of its own, so it outlives the shell, the SSH session and the
/// fwctl that started it).
/// </summary>
internal static class ConfirmCommands
{
    private static readonly Argument<string> IfaceArgument = InterfaceArgument.Required("The interface with the unconfirmed change");

    /// <summary>How often the timer looks whether the change was confirmed or replaced meanwhile.</summary>
    private static readonly TimeSpan Poll = TimeSpan.FromMilliseconds(200);

    public static Command CreateConfirm(TextWriter stdout, TextWriter stderr)
    {
        var cmd = new Command("confirm", "Keep the change made by `fwctl reload --confirm`: it no longer reverts") { IfaceArgument, FwctlApp.JsonOption };
        cmd.SetAction(p =>
        {
            string iface = p.GetValue(IfaceArgument)!;
            bool json = p.GetValue(FwctlApp.JsonOption);
            return Output.Run(json, stdout, stderr, () =>
            {
                var done = Deployment.Confirm(iface);
                if (json)
                    Output.WriteJson(stdout, new Dictionary<string, object?> { ["interface"] = iface, ["confirmed"] = true, ["generation"] = done.Generation });
                else
                    stdout.WriteLine($"{iface}: generation {done.Generation} confirmed");
                return FwctlApp.ExitOk;
            });
        });
        return cmd;
    }

    public static Command CreateRevert(TextWriter stdout, TextWriter stderr)
    {
        var cmd = new Command("revert", "Undo the change made by `fwctl reload --confirm` now, as its deadline would") { IfaceArgument, FwctlApp.JsonOption };
        cmd.SetAction(p =>
        {
            string iface = p.GetValue(IfaceArgument)!;
            bool json = p.GetValue(FwctlApp.JsonOption);
            return Output.Run(json, stdout, stderr, () =>
            {
                var done = Deployment.Revert(iface) ?? throw new FirewallException(iface, "revert", FirewallError.NotPending,
                    $"revert {iface}: no change is waiting for confirmation");
                if (json)
                {
                    Output.WriteJson(stdout, new Dictionary<string, object?>
                    {
                        ["interface"] = iface, ["reverted"] = true, ["generation"] = done.PreviousGeneration,
                    });
                }
                else
                {
                    stdout.WriteLine($"{iface}: generation {done.Generation} reverted; generation {done.PreviousGeneration} runs again");
                }
                return FwctlApp.ExitOk;
            });
        });
        return cmd;
    }

    private static readonly Argument<string> TokenArgument = new("TOKEN") { Description = "The change to revert" };

    /// <summary>fwctl confirm-timer IFACE TOKEN (hidden): waits for the deadline of that change, then reverts it unless confirmed.</summary>
    public static Command CreateTimer()
    {
        var cmd = new Command("confirm-timer", "Revert a --confirm change at its deadline (started by fwctl reload)") { IfaceArgument, TokenArgument };
        cmd.Hidden = true;
        cmd.SetAction(p => RunTimer(p.GetValue(IfaceArgument)!, p.GetValue(TokenArgument)!));
        return cmd;
    }

    private static int RunTimer(string iface, string token)
    {
        while (true)
        {
            var pending = PendingConfirm.Read(iface);
            if (pending is null || pending.Token != token)
                return FwctlApp.ExitOk;   // confirmed, reverted, or replaced by another change
            var left = pending.Deadline - DateTimeOffset.UtcNow;
            if (left <= TimeSpan.Zero)
            {
                try
                {
                    var reverted = Deployment.Revert(iface, token);
                    if (reverted is not null)
                        Log($"{iface}: generation {reverted.Generation} was not confirmed; generation {reverted.PreviousGeneration} runs again");
                    return FwctlApp.ExitOk;
                }
                catch (Exception e)
                {
                    Log($"{iface}: revert of an unconfirmed change failed: {e.Message}");
                    return FwctlApp.ExitFailure;
                }
            }
            Thread.Sleep(left < Poll ? left : Poll);
        }
    }

    /// <summary>The timer has no terminal: what it did goes to the system log (logger(1)).</summary>
    private static void Log(string message)
    {
        try
        {
            using var p = Process.Start(new ProcessStartInfo("logger", ["-t", "fwctl", "--", Fw.Rules.Printable.Clean(message)]) { UseShellExecute = false });
            p?.WaitForExit(5000);
        }
        catch (Exception e) when (e is System.ComponentModel.Win32Exception or InvalidOperationException)
        {
        }
    }

    /// <summary>
    /// Starts the timer of a change: `fwctl confirm-timer IFACE TOKEN` through setsid(1) in a new session, with
    /// stdin, stdout and stderr on /dev/null, so no hangup, closed terminal or ended SSH session reaches it, and
    /// it keeps no terminal open. Returns once it runs; throws when it cannot start (the reload then does not
    /// happen: a change that cannot revert itself is not made).
    /// </summary>
    internal static void StartTimer(PendingConfirm pending)
    {
        string fwctl = FwctlPath();
        var psi = new ProcessStartInfo("setsid",
            ["-f", "sh", "-c", "exec \"$0\" confirm-timer \"$1\" \"$2\" </dev/null >/dev/null 2>&1", fwctl, pending.Interface, pending.Token])
        {
            UseShellExecute = false,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        using var p = Process.Start(psi) ?? throw new IOException("start the confirm timer: setsid did not start");
        p.StandardInput.Close();
        string err = p.StandardError.ReadToEnd();
        p.WaitForExit();
        if (p.ExitCode != 0)
            throw new IOException($"start the confirm timer: setsid exited {p.ExitCode}: {err.Trim()}");
    }

    /// <summary>This fwctl's executable (the apphost beside fwctl.dll; when fwctl runs inside another host, as in tests, that one).</summary>
    private static string FwctlPath()
    {
        string beside = Path.Combine(AppContext.BaseDirectory, "fwctl");
        if (File.Exists(beside))
            return beside;
        return Environment.ProcessPath is { } self && Path.GetFileName(self) == "fwctl"
            ? self
            : throw new IOException($"start the confirm timer: no fwctl executable in {AppContext.BaseDirectory}");
    }

    internal static Dictionary<string, object?>? ToJson(PendingConfirm? p) => p is null ? null : new()
    {
        ["deadline"] = p.Deadline.ToString("yyyy-MM-ddTHH:mm:ss.fffZ"),
        ["generation"] = p.Generation,
        ["reverts_to_generation"] = p.PreviousGeneration,
    };
}
