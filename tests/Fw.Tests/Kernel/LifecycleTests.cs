using Fw.Compiler;
using Fw.Kernel;
using Fw.Packets;
using Fw.Rules;
using Fw.Bpf;
using Fw.Control;

namespace Fw.Tests.Kernel;

/// <summary>Attach, reload and detach on a real veth interface, through the pinned state.</summary>
public sealed class LifecycleTests : IDisposable
{
    private readonly TestVeth _veth = new();
    private readonly string _dir = Directory.CreateTempSubdirectory("fw-life-").FullName;

    public void Dispose()
    {
        _veth.Dispose();
        Directory.Delete(_dir, recursive: true);
    }

    private (CheckResult, string) Rules(string yaml)
    {
        string path = Path.Combine(_dir, "rules.yaml");
        File.WriteAllText(path, yaml);
        var check = RulesCheck.Check(path);
        Assert.True(check.Ok, string.Join("\n", check.Diagnostics));
        return (check, path);
    }

    private const string V1 = """
        rules:
          - name: ssh
            proto: tcp
            dport: 22
            action: drop
          - name: dns
            proto: udp
            dport: 53
            action: pass
        """;

    private const string V2 = """
        default: drop
        rules:
          - name: web
            proto: tcp
            dport: 80
            action: pass
          - name: ssh
            proto: tcp
            dport: [22, 2222]
            action: drop
        """;

    private static readonly byte[] Ssh = Frame.Tcp("198.18.0.1", "198.18.0.2", 40000, 22).Build();
    private static readonly byte[] Web = Frame.Tcp("198.18.0.1", "198.18.0.2", 40000, 80).Build();

    /// <summary>Runs a frame through the attached program itself (live counters count it).</summary>
    private XdpAction RunLive(byte[] frame)
    {
        using var prog = FdHandle.OpenPinned(PinLayout.Prog(_veth.Name));
        return BpfObject.TestRun(prog.Fd, frame).Verdict;
    }

    /// <summary>
    /// Counter slots are keyed by a stable number: a rule whose slot lies where actions and reasons count (as an
    /// older build, whose rule slots began at 8, left it) moves to a rule slot on the next reload with its counts,
    /// and the reason slot it leaves reads zero; reason counters never move.
    /// </summary>
    [Fact]
    public void ReloadMovesARuleOutOfTheReasonSlotsWithItsCounts()
    {
        var (v1, _) = Rules(V1);
        Deployment.Attach(_veth.Name, v1, XdpMode.Auto);
        const uint OldSlot = 63;   // a reason slot (below RuleBase), not yet used by any reason
        Assert.True(OldSlot < (uint)FwStatSlot.RuleBase && !Enum.IsDefined((FwStatSlot)OldSlot));
        using (var state = InterfaceState.Open(_veth.Name))
        {
            // Make "ssh" count in a reason slot, as a generation pinned by the older layout (rules from 8) would.
            using var rules = BpfMap.OpenPinned(Path.Combine(state.GenerationDir, "fw_rules"));
            var r = rules.Lookup<uint, FwRule>(0);
            r.StatSlot = OldSlot;
            rules.Update(0u, r);
        }
        for (int i = 0; i < 3; i++)
            Assert.Equal(XdpAction.Drop, RunLive(Ssh));
        var before = StatsSnapshot.Read(_veth.Name);
        Assert.Equal(3UL, before.Rules[0].Counter.Total.Packets);
        Assert.Equal(3UL, before.Drop.Total.Packets);

        Deployment.Reload(_veth.Name, v1);

        using (var state = InterfaceState.Open(_veth.Name))
        {
            Assert.True(state.Rules[0].Slot >= (uint)FwStatSlot.RuleBase, $"ssh still counts in slot {state.Rules[0].Slot}");
            Assert.Equal(0UL, Counter.From(state.Counter(OldSlot)).Total.Packets);
        }
        var after = StatsSnapshot.Read(_veth.Name);
        Assert.Equal(3UL, after.Rules[0].Counter.Total.Packets);   // the counts came along
        Assert.Equal(before.Slots, after.Slots, new SlotTotals());
        Assert.Equal(XdpAction.Drop, RunLive(Ssh));
        Assert.Equal(4UL, StatsSnapshot.Read(_veth.Name).Rules[0].Counter.Total.Packets);
        Firewall.Detach(_veth.Name);
    }

    /// <summary>
    /// An interface attached by a build before multi-buffer frames (dispatcher and classifier plain SEC("xdp")) is
    /// reloaded by this one: the kernel refuses a tail call between programs loaded unalike, so the new generation
    /// is loaded as the attached dispatcher was, and the reload works (it failed and rolled back before).
    /// </summary>
    [Fact]
    public void ReloadUnderADispatcherOfABuildWithoutFrags()
    {
        var (v1, path) = Rules(V1);
        Firewall.Attach(_veth.Name, v1.Image!, new ImageOrigin(path, 0), XdpMode.Native, null, frags: false);
        Assert.Equal(XdpAction.Drop, RunLive(Ssh));
        var (v2, _) = Rules(V2);
        Assert.Equal(2UL, Deployment.Reload(_veth.Name, v2).Generation);
        Assert.Equal(XdpAction.Pass, RunLive(Web));   // v2 classifies
        Assert.Equal(3UL, Deployment.Reload(_veth.Name, v1).Generation);
        Assert.Equal(XdpAction.Drop, RunLive(Ssh));
        Firewall.Detach(_veth.Name);
    }

    /// <summary>Action and reason counters compared by their totals.</summary>
    private sealed class SlotTotals : IEqualityComparer<IReadOnlyDictionary<FwStatSlot, Counter>>
    {
        public bool Equals(IReadOnlyDictionary<FwStatSlot, Counter>? a, IReadOnlyDictionary<FwStatSlot, Counter>? b) =>
            a!.Count == b!.Count && a.All(kv => b[kv.Key].Total == kv.Value.Total);

        public int GetHashCode(IReadOnlyDictionary<FwStatSlot, Counter> d) => d.Count;
    }

    [Fact]
    public void AttachReloadDetach()
    {
        var (v1, path) = Rules(V1);
        var attached = Deployment.Attach(_veth.Name, v1, XdpMode.Auto);
        Assert.Equal(1UL, attached.Generation);
        Assert.Equal(XdpMode.Native, attached.Mode);   // veth has native XDP
        Assert.True(File.Exists(PinLayout.Link(_veth.Name)));
        Assert.NotEqual(0u, Firewall.AttachedProgramId(_veth.Name));

        var again = Assert.Throws<FirewallException>(() => Deployment.Attach(_veth.Name, v1, XdpMode.Auto));
        Assert.Equal(FirewallError.AlreadyAttached, again.Error);
        Assert.Contains("(use fwctl reload to change its rules)", Fw.Cli.Output.WithHint(again));   // the front end says what to run

        for (int i = 0; i < 3; i++)
            Assert.Equal(XdpAction.Drop, RunLive(Ssh));
        Assert.Equal(XdpAction.Pass, RunLive(Web));
        var s1 = StatsSnapshot.Read(_veth.Name);
        Assert.Equal(1UL, s1.Generation);
        Assert.Equal(["ssh", "dns"], s1.Rules.Select(r => r.Name));
        Assert.Equal(3UL, s1.Rules[0].Counter.Total.Packets);
        Assert.Equal(3UL * (ulong)Ssh.Length, s1.Rules[0].Counter.Total.Bytes);
        Assert.Equal(1UL, s1.Default.Total.Packets);
        Assert.Equal(3UL, s1.Drop.Total.Packets);

        // Reload: "ssh" keeps its counter, "web" starts at zero, the generation rises by one.
        var (v2, _) = Rules(V2);
        var reloaded = Deployment.Reload(_veth.Name, v2);
        Assert.Equal(2UL, reloaded.Generation);
        var s2 = StatsSnapshot.Read(_veth.Name);
        Assert.Equal(["web", "ssh"], s2.Rules.Select(r => r.Name));
        Assert.Equal(3UL, s2.Rules[1].Counter.Total.Packets);
        Assert.Equal(0UL, s2.Rules[0].Counter.Total.Packets);
        Assert.Equal(XdpAction.Pass, RunLive(Web));
        Assert.Equal(XdpAction.Drop, RunLive(Frame.Udp("198.18.0.1", "198.18.0.2", 1, 53).Build()));   // default drop now
        Assert.Equal(1UL, StatsSnapshot.Read(_veth.Name).Rules[0].Counter.Total.Packets);
        Assert.False(Directory.Exists(PinLayout.Generation(_veth.Name, 1)));

        // The trace copy classifies with the live rules and leaves live counters alone.
        using (var copy = Firewall.OpenTrace(_veth.Name))
        {
            var before = StatsSnapshot.Read(_veth.Name);
            var (verdict, trace) = copy.Run(Frame.Tcp("198.18.0.1", "198.18.0.2", 1, 2222).Build());
            Assert.Equal(XdpAction.Drop, verdict);
            Assert.Equal((uint)FwReason.Rule, trace.Reason);
            Assert.Equal(1u, trace.Rule);
            var after = StatsSnapshot.Read(_veth.Name);
            Assert.Equal(before.Drop.Total, after.Drop.Total);
            Assert.Equal(before.Rules[1].Counter.Total, after.Rules[1].Counter.Total);
        }

        Firewall.Detach(_veth.Name);
        Assert.False(Directory.Exists(PinLayout.Dir(_veth.Name)));
        Assert.Equal(0u, Firewall.AttachedProgramId(_veth.Name));
    }

    [Fact]
    public void FailedReloadChangesNothing()
    {
        var (v1, path) = Rules(V1);
        Deployment.Attach(_veth.Name, v1, XdpMode.Auto);
        RunLive(Ssh);
        var before = StatsSnapshot.Read(_veth.Name);
        // A redirect to an interface that vanished between check and load: the load fails.
        var bad = RulesCheck.Check(RulesLoader.Parse("rules:\n  - action: redirect\n    to: fwgone0\n", "bad.yaml", _dir), _ => 99);
        Assert.True(bad.Ok);
        Assert.ThrowsAny<Exception>(() => Deployment.Reload(_veth.Name, bad));
        var after = StatsSnapshot.Read(_veth.Name);
        Assert.Equal(1UL, after.Generation);
        Assert.Equal(before.Rules.Select(r => (r.Name, r.Counter.Total)), after.Rules.Select(r => (r.Name, r.Counter.Total)));
        Assert.Equal(XdpAction.Drop, RunLive(Ssh));
        Assert.Single(Directory.GetDirectories(PinLayout.Dir(_veth.Name), "gen-*"));
    }

    [Fact]
    public void AttachRefusesAnotherXdpProgram()
    {
        using var other = BpfObject.Open(Classifier.DefaultObjectPath("fw_dispatch.bpf.o"));
        other.Load();
        // Attach something that is not fw with ip(8), then ask fw to attach.
        string pin = $"/sys/fs/bpf/fwtest-other-{Environment.ProcessId}";
        other.PinProgram("fw_dispatch", pin);
        try
        {
            TestVeth.Ip("link", "set", "dev", _veth.Name, "xdpdrv", "pinned", pin);
            var (v1, path) = Rules(V1);
            var e = Assert.Throws<FirewallException>(() => Deployment.Attach(_veth.Name, v1, XdpMode.Auto));
            Assert.Equal(FirewallError.OtherProgram, e.Error);
            Assert.Contains("another XDP program", e.Message);
            Assert.False(Directory.Exists(PinLayout.Dir(_veth.Name)));
        }
        finally
        {
            TestVeth.Ip("link", "set", "dev", _veth.Name, "xdpdrv", "off");
            File.Delete(pin);
        }
    }
}
