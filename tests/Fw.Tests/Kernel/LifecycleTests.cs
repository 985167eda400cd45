using Fw.Compiler;
using Fw.Kernel;
using Fw.Packets;
using Fw.Rules;

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
        var check = RulesCheck.Check(path, Classifier.ResolveInterface);
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

    [Fact]
    public void AttachReloadDetach()
    {
        var (v1, path) = Rules(V1);
        var attached = Firewall.Attach(_veth.Name, v1, path, XdpMode.Auto);
        Assert.Equal(1UL, attached.Generation);
        Assert.Equal(XdpMode.Native, attached.Mode);   // veth has native XDP
        Assert.True(File.Exists(PinLayout.Link(_veth.Name)));
        Assert.NotEqual(0u, Firewall.AttachedProgramId(_veth.Name));

        var again = Assert.Throws<BpfException>(() => Firewall.Attach(_veth.Name, v1, path, XdpMode.Auto));
        Assert.Contains("reload", again.Message);

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
        var reloaded = Firewall.Reload(_veth.Name, v2, path);
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
        using (var state = InterfaceState.Open(_veth.Name))
        using (var copy = Classifier.LoadTraceCopy(state.GenerationDir, state.Meta))
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
        Firewall.Attach(_veth.Name, v1, path, XdpMode.Auto);
        RunLive(Ssh);
        var before = StatsSnapshot.Read(_veth.Name);
        // A redirect to an interface that vanished between check and load: the load fails.
        var bad = RulesCheck.Check(RulesLoader.Parse("rules:\n  - action: redirect\n    to: fwgone0\n", "bad.yaml", _dir), _ => 99);
        Assert.True(bad.Ok);
        Assert.ThrowsAny<Exception>(() => Firewall.Reload(_veth.Name, bad, path));
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
            var e = Assert.Throws<BpfException>(() => Firewall.Attach(_veth.Name, v1, path, XdpMode.Auto));
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
