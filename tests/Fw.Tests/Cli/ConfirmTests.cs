using System.Diagnostics;
using System.Text.Json;
using Fw.Bpf;
using Fw.Kernel;
using Fw.Packets;
using static Fw.Tests.Cli.Fwctl;

namespace Fw.Tests.Cli;

/// <summary>
/// Reload with automatic revert (commit confirmed): `fwctl reload IFACE --rules FILE --confirm SECONDS` swaps the
/// ruleset in; unless `fwctl confirm IFACE` runs in time, the previous one comes back by itself, also when the
/// fwctl that made the change was killed with SIGKILL. On a real veth, through the real fwctl binary for the kill.
/// </summary>
public sealed class ConfirmTests() : VethCliTest("fwctl-confirm-")
{
    public override void Dispose()
    {
        base.Dispose();
        Assert.Empty(Timers());   // nothing left running
    }

    // A drops SSH; B passes it and drops DNS instead. Rule "ssh" is in both (its counter carries over).
    private const string A = "rules:\n  - name: ssh\n    proto: tcp\n    dport: 22\n    action: drop\n";
    private const string B = "rules:\n  - name: ssh\n    proto: tcp\n    dport: 22\n    action: pass\n  - name: dns\n    proto: udp\n    dport: 53\n    action: drop\n";

    private static readonly byte[] Ssh = Frame.Tcp("198.18.0.1", "198.18.0.2", 40000, 22).Build();
    private static readonly byte[] Dns = Frame.Udp("198.18.0.1", "198.18.0.2", 40000, 53).Build();

    private XdpAction Live(byte[] frame)
    {
        using var prog = FdHandle.OpenPinned(PinLayout.Prog(Veth.Name));
        return BpfObject.TestRun(prog.Fd, frame).Verdict;
    }

    private ulong MetaGeneration()
    {
        using var s = InterfaceState.Open(Veth.Name);
        return s.Meta.Generation;
    }

    /// <summary>The confirm timers of this test's interface still running.</summary>
    private string[] Timers() =>
        Directory.GetDirectories("/proc").Select(d => Path.Combine(d, "cmdline")).Where(File.Exists)
            .Select(f => { try { return File.ReadAllText(f).Replace('\0', ' '); } catch (IOException) { return ""; } })
            .Where(c => c.Contains("confirm-timer") && c.Contains(Veth.Name + " ")).ToArray();

    private static void WaitUntil(Func<bool> condition, TimeSpan within, string what)
    {
        var sw = Stopwatch.StartNew();
        while (!condition())
        {
            Assert.True(sw.Elapsed < within, $"not within {within.TotalSeconds:0} s: {what}");
            Thread.Sleep(50);
        }
    }

    [Fact]
    public void UnconfirmedChangeRevertsByItselfWithCountersKept()
    {
        string a = Write("a.yaml", A), b = Write("b.yaml", B);
        Assert.Equal(0, Run("attach", Veth.Name, "--rules", a).Exit);
        Assert.Equal(XdpAction.Drop, Live(Ssh));

        var (rc, stdout, stderr) = Run("reload", Veth.Name, "--rules", b, "--confirm", "2", "--json");
        Assert.True(rc == 0, stderr);
        var doc = JsonDocument.Parse(stdout).RootElement;
        Assert.Equal(2UL, doc.GetProperty("generation").GetUInt64());
        Assert.Equal(1UL, doc.GetProperty("pending_confirm").GetProperty("reverts_to_generation").GetUInt64());
        Assert.Equal(XdpAction.Pass, Live(Ssh));   // B runs
        Assert.Equal(XdpAction.Drop, Live(Dns));

        // Status says so, and a second change is refused while it waits.
        var status = JsonDocument.Parse(Run("status", "--json").Out).RootElement.EnumerateArray().Single(r => r.GetProperty("interface").GetString() == Veth.Name);
        var deadline = DateTimeOffset.Parse(status.GetProperty("pending_confirm").GetProperty("deadline").GetString()!);
        Assert.InRange(deadline - DateTimeOffset.UtcNow, TimeSpan.Zero, TimeSpan.FromSeconds(2.5));
        var again = Run("reload", Veth.Name, "--rules", a);
        Assert.Equal(1, again.Exit);
        Assert.Contains("waiting for confirmation", again.Err);
        Assert.Single(Timers());

        WaitUntil(() => MetaGeneration() == 1, TimeSpan.FromSeconds(10), "generation 1 back");
        Assert.Equal(XdpAction.Drop, Live(Ssh));   // A runs again
        Assert.Equal(XdpAction.Pass, Live(Dns));
        var s = StatsSnapshot.Read(Veth.Name);
        Assert.Equal(["ssh"], s.Rules.Select(r => r.Name));
        Assert.Equal(3UL, s.Rules[0].Counter.Total.Packets);   // one packet under A, one under B, one under A again
        // The timer is another process: generation 1 runs from the commit on, the rest of its revert follows.
        WaitUntil(() => !Directory.Exists(PinLayout.Generation(Veth.Name, 2)), TimeSpan.FromSeconds(5), "generation 2 removed");
        Assert.Null(Firewall.Pending(Veth.Name));
        WaitUntil(() => Timers().Length == 0, TimeSpan.FromSeconds(5), "the timer ends");
        Assert.Equal(0, Run("reload", Veth.Name, "--rules", b).Exit);   // no longer refused
    }

    [Fact]
    public void ConfirmKeepsTheChangeAndEndsTheTimer()
    {
        string a = Write("a.yaml", A), b = Write("b.yaml", B);
        Assert.Equal(0, Run("attach", Veth.Name, "--rules", a).Exit);
        var (rc, stdout, stderr) = Run("reload", Veth.Name, "--rules", b, "--confirm", "600");
        Assert.True(rc == 0, stderr);
        Assert.Contains($"unless `fwctl confirm {Veth.Name}` runs before", stdout);
        Assert.Contains("unconfirmed", Run("status").Out);
        Assert.True(Directory.Exists(PinLayout.Generation(Veth.Name, 1)));   // kept to revert to

        var confirmed = Run("confirm", Veth.Name);
        Assert.True(confirmed.Exit == 0, confirmed.Err);
        Assert.Contains("generation 2 confirmed", confirmed.Out);
        Assert.False(Directory.Exists(PinLayout.Generation(Veth.Name, 1)));
        WaitUntil(() => Timers().Length == 0, TimeSpan.FromSeconds(5), "the timer ends");
        Assert.Equal(2UL, MetaGeneration());
        Assert.Equal(XdpAction.Pass, Live(Ssh));
        var twice = Run("confirm", Veth.Name);
        Assert.Equal(1, twice.Exit);
        Assert.Contains("no change is waiting", twice.Err);
    }

    [Fact]
    public void RevertNowPutsThePreviousRulesetBack()
    {
        string a = Write("a.yaml", A), b = Write("b.yaml", B);
        Assert.Equal(0, Run("attach", Veth.Name, "--rules", a).Exit);
        Assert.Equal(0, Run("reload", Veth.Name, "--rules", b, "--confirm", "600").Exit);
        var r = Run("revert", Veth.Name, "--json");
        Assert.True(r.Exit == 0, r.Err);
        Assert.Equal(1UL, JsonDocument.Parse(r.Out).RootElement.GetProperty("generation").GetUInt64());
        Assert.Equal(1UL, MetaGeneration());
        Assert.Equal(XdpAction.Drop, Live(Ssh));
        WaitUntil(() => Timers().Length == 0, TimeSpan.FromSeconds(5), "the timer ends");
    }

    /// <summary>
    /// The issuing fwctl is killed with SIGKILL after its change took effect (blocked on a full stdout pipe, so it
    /// is certainly alive then): the change still reverts at its deadline.
    /// </summary>
    [Fact]
    public void RevertsWhenTheIssuingFwctlIsKilled()
    {
        string a = Write("a.yaml", A), b = Write("b.yaml", B);
        Assert.Equal(0, Run("attach", Veth.Name, "--rules", a).Exit);
        string fifo = Path.Combine(Dir, "stdout");
        Assert.Equal(0, Process.Start("mkfifo", [fifo])!.WaitForExitAndCode());
        // Hold the FIFO open read-write (never blocks) and fill its buffer: fwctl's first write then blocks.
        using var hold = new FileStream(fifo, FileMode.Open, FileAccess.ReadWrite, FileShare.ReadWrite, 1);
        var full = new byte[65536];
        hold.Write(full);
        hold.Flush();
        string fwctl = Path.Combine(AppContext.BaseDirectory, "fwctl");
        var psi = new ProcessStartInfo("sh", ["-c", "exec \"$0\" reload \"$1\" --rules \"$2\" --confirm 3 >\"$3\"", fwctl, Veth.Name, b, fifo])
        {
            UseShellExecute = false,
            RedirectStandardError = true,
        };
        using var issuer = Process.Start(psi)!;
        WaitUntil(() => MetaGeneration() == 2, TimeSpan.FromSeconds(30), "the change takes effect");
        Assert.Equal(XdpAction.Pass, Live(Ssh));
        Thread.Sleep(300);
        Assert.False(issuer.HasExited, "fwctl should still be blocked writing its result");
        Process.Start("kill", ["-KILL", issuer.Id.ToString()])!.WaitForExit();
        issuer.WaitForExit();
        Assert.Equal(137, issuer.ExitCode);   // 128 + SIGKILL

        WaitUntil(() => MetaGeneration() == 1, TimeSpan.FromSeconds(15), "generation 1 back after the deadline");
        Assert.Equal(XdpAction.Drop, Live(Ssh));
        Assert.Null(Firewall.Pending(Veth.Name));
        WaitUntil(() => Timers().Length == 0, TimeSpan.FromSeconds(5), "the timer ends");
    }
}

internal static class ProcessExtensions
{
    public static int WaitForExitAndCode(this Process p)
    {
        p.WaitForExit();
        return p.ExitCode;
    }
}
