using System.Diagnostics;
using Fw.Bpf;
using Fw.Kernel;
using Fw.Packets;
using Fw.Tests.Kernel;
using Fw.Traffic;
using Xunit.Abstractions;
using static Fw.Tests.Cli.Fwctl;

namespace Fw.Tests.Daemon;

/// <summary>
/// Live sets operated while the real fwd runs and real frames arrive (an AF_PACKET TX ring into the veth's peer):
/// `fwctl set add` blocks a source from the next frame on and `fwctl set del` lets it through again; the entries
/// survive a reload of a changed rules file, a kill -9 of fwd and the adoption by a new fwd; fwd's sweep removes an
/// entry once it has expired (counted), while one without expiry stays.
/// In the fwd collection: it runs alone.
/// </summary>
[Collection(FwdCollection.Name)]
public sealed class LiveSetFwdTests(ITestOutputHelper output) : IDisposable
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(20);

    private readonly TestVeth _veth = new();
    private readonly string _dir = Directory.CreateTempSubdirectory("fwd-sets-").FullName;
    private readonly List<FwdProcess> _fwds = [];

    public void Dispose()
    {
        foreach (var f in _fwds)
            f.Dispose();   // kills a fwd still running
        try
        {
            if (Directory.Exists(PinLayout.Dir(Iface)))
                Firewall.Detach(Iface);
        }
        finally
        {
            _veth.Dispose();
            Directory.Delete(_dir, recursive: true);
        }
    }

    private string Iface => _veth.Name;

    private string RulesPath => Path.Combine(_dir, "rules.yaml");

    private string Rules(bool extra = false) => $$"""
        interfaces: [{{Iface}}]
        sets:
          banned: { dynamic: true, timeout: 600 }
        rules:
        {{(extra ? "  - { name: noise, proto: icmpv6, action: pass }\n" : "")}}  - name: drop-banned
            src: "@banned"
            action: drop
          - { name: from-a, src: 198.18.7.1, action: pass }
          - { name: from-b, src: 198.18.7.2, action: pass }
        """;

    private static readonly byte[] A = Frame.Udp("198.18.7.1", "198.18.8.8", 40000, 53).Build();
    private static readonly byte[] B = Frame.Udp("198.18.7.2", "198.18.8.8", 40000, 53).Build();

    private FwdProcess Start()
    {
        var fwd = new FwdProcess(["--rules", RulesPath]);
        _fwds.Add(fwd);
        fwd.WaitReady();
        return fwd;
    }

    private ulong Count(string rule) => StatsSnapshot.Read(Iface).Rules.Single(r => r.Name == rule).Counter.Total.Packets;

    /// <summary>Sends one frame and waits for some rule's counter to count it; returns that rule.</summary>
    private string SendOne(PacketSender sender, byte[] frame)
    {
        string[] rules = ["drop-banned", "from-a", "from-b"];
        var before = rules.ToDictionary(r => r, Count);
        Assert.Equal(1, sender.Send(frame).Frames);
        var sw = Stopwatch.StartNew();
        while (sw.Elapsed < Wait)
        {
            foreach (string r in rules)
            {
                if (Count(r) > before[r])
                    return r;
            }
            Thread.Sleep(5);
        }
        throw new Xunit.Sdk.XunitException("the frame was counted by no rule");
    }

    private List<LiveSetEntry> Entries()
    {
        using var set = LiveSetMap.OpenPinned(Iface, "banned");
        return set.ReadAll();
    }

    [Fact]
    public void EntriesDecideTheNextFrameAndSurviveAReloadAndAKill9OfFwd()
    {
        File.WriteAllText(RulesPath, Rules());
        var first = Start();
        using var sender = new PacketSender(_veth.Peer, maxFrame: 128, ringFrames: 16);
        Assert.Equal("from-a", SendOne(sender, A));

        // add: the next frame from that source is dropped; another source passes.
        var add = Run("set", "add", Iface, "banned", "198.18.7.1");
        Assert.True(add.Exit == 0, add.Err);
        Assert.Equal("drop-banned", SendOne(sender, A));
        Assert.Equal("from-b", SendOne(sender, B));

        // del: the next one passes again.
        var del = Run("set", "del", Iface, "banned", "198.18.7.1");
        Assert.True(del.Exit == 0, del.Err);
        Assert.Equal("from-a", SendOne(sender, A));

        // Entries (one with the set's timeout, one without expiry) survive a reload of a changed file.
        var add2 = Run("set", "add", Iface, "banned", "198.18.7.1", "2001:db8::/48");
        output.WriteLine(add2.Out + add2.Err + Run("set", "list", Iface).Out);
        Assert.Equal(0, add2.Exit);
        using (var set = LiveSetMap.OpenPinned(Iface, "banned"))
            Assert.True(set.Put(Fw.Rules.IpPrefix.Create(Fw.Rules.IpFamily.V4, (UInt128)0xC6120900u << 96, 24), 0, KernelClock.CoarseNs()));
        var entries = Entries().OrderBy(e => e.Prefix).ToList();
        int mark = first.LineCount;
        File.WriteAllText(RulesPath, Rules(extra: true));
        first.WaitForLine($"reload {Iface}", Wait, mark);
        Assert.True(StatsSnapshot.Read(Iface).Generation >= 2);
        Assert.Equal(entries, Entries().OrderBy(e => e.Prefix).ToList());
        Assert.Equal("drop-banned", SendOne(sender, A));

        // kill -9: the filter and its sets stay; a new fwd adopts them as they are.
        first.Signal(FwdProcess.SigKill);
        Assert.Equal(137, first.WaitForExit(Wait));
        Assert.Equal(entries, Entries().OrderBy(e => e.Prefix).ToList());
        Assert.Equal("drop-banned", SendOne(sender, A));
        var second = Start();
        Assert.Contains($"adopt {Iface}", second.Output);
        Assert.Equal(entries, Entries().OrderBy(e => e.Prefix).ToList());
        Assert.Equal("drop-banned", SendOne(sender, A));
        Assert.Equal("from-b", SendOne(sender, B));
        output.WriteLine(string.Join("\n", entries));
        second.Signal(FwdProcess.SigTerm);
        Assert.Equal(0, second.WaitForExit(Wait));
    }

    [Fact]
    public void FwdSweepsAnExpiredEntryAndKeepsOneWithoutExpiry()
    {
        File.WriteAllText(RulesPath, Rules());
        var fwd = Start();
        Assert.Equal(0, Run("set", "add", Iface, "banned", "198.18.7.1", "--timeout", "1").Exit);
        using (var set = LiveSetMap.OpenPinned(Iface, "banned"))
            Assert.True(set.Put(Fw.Rules.IpPrefix.FromAddress(System.Net.IPAddress.Parse("198.18.7.2")), 0, KernelClock.CoarseNs()));
        using var sender = new PacketSender(_veth.Peer, maxFrame: 128, ringFrames: 16);
        Thread.Sleep(1100);
        Assert.Equal("from-a", SendOne(sender, A));   // expired: no longer matching, swept or not

        // fwd sweeps every 10 s: the expired entry goes (counted as expired), the other stays.
        var sw = Stopwatch.StartNew();
        // (the sweep counts what it removed once it has been through the set: wait for both)
        while ((Entries().Count > 1 || StatsSnapshot.Read(Iface).LiveSets.Single().Expired == 0) && sw.Elapsed < TimeSpan.FromSeconds(25))
            Thread.Sleep(200);
        var left = Assert.Single(Entries());
        Assert.Equal("198.18.7.2/32", left.Prefix.ToString());
        var counts = Assert.Single(StatsSnapshot.Read(Iface).LiveSets);
        Assert.Equal(1UL, counts.Expired);
        output.WriteLine($"swept after {sw.Elapsed.TotalSeconds:F1} s: {counts}");
        Assert.False(fwd.HasExited);
    }
}
