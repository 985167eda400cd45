using System.Net;
using Fw.Bpf;
using Fw.Compiler;
using Fw.Kernel;
using Fw.Packets;
using Fw.Tests.Rules;

namespace Fw.Tests.Kernel;

/// <summary>
/// The flow table from the control plane (ConntrackTable, StatsSnapshot.Conntrack): flows decoded as the data plane
/// wrote them, the sweep of expired entries, flushes by filter, the derived eviction count of a full table, and the
/// egress side put back by a revert. Packets go through the attached dispatcher with BPF_PROG_TEST_RUN.
/// </summary>
public sealed class ConntrackTableTests : IDisposable
{
    private readonly TestVeth _veth = new();

    public void Dispose() => _veth.Dispose();

    private static readonly ImageOrigin Origin = new("/dev/null", 0);

    private static MapImage Image(string yaml) => RulesetCompiler.Compile(RulesTestKit.ParseOk(yaml));

    private XdpAction Live(Frame f)
    {
        using var prog = FdHandle.OpenPinned(PinLayout.Prog(_veth.Name));
        return BpfObject.TestRun(prog.Fd, f.Build()).Verdict;
    }

    private void Leave(Frame f)
    {
        using var egress = FdHandle.OpenPinned(PinLayout.Egress(_veth.Name));
        BpfObject.TestRun(egress.Fd, f.Build());
    }

    private ConntrackTable Table() => ConntrackTable.Open(_veth.Name) ?? throw new InvalidOperationException("no table");

    private const string TrackAll = """
        conntrack:
          max: 1024
        default: drop
        rules:
          - name: replies
            state: established
            action: pass
          - name: track-tcp
            proto: tcp
            track: true
            action: pass
        """;

    [Fact]
    public void FlowsAreDecodedAsTheDataPlaneWroteThem()
    {
        Firewall.Attach(_veth.Name, Image(Fw.Testing.ConntrackPolicies.RepliesAndSshIn), Origin, XdpMode.Native);
        Assert.Equal(XdpAction.Pass, Live(Frame.Tcp("198.18.0.1", "192.0.2.10", 40000, 22)));      // ssh-in tracks it
        Leave(Frame.Udp("2001:db8::10", "2001:db8:1::9", 5353, 53));                                // a query leaves
        Leave(Frame.Icmp("192.0.2.10", "198.18.0.7", 8).WithIcmp(h => h with { Rest = 77u << 16 | 1 }));

        using var table = Table();
        Assert.True(table.InUse);
        Assert.Equal(262_144u, table.Max);
        var flows = table.Flows().OrderBy(f => f.Proto).ToList();
        Assert.Equal(3, flows.Count);

        var ssh = Assert.Single(flows, f => f.Proto == 6);
        Assert.Equal((IPAddress.Parse("198.18.0.1"), (ushort)40000, IPAddress.Parse("192.0.2.10"), (ushort)22),
            (ssh.Src, ssh.Sport, ssh.Dst, ssh.Dport));   // the end that started it is the source
        Assert.Equal(FwCtOrigin.Tracked, ssh.Origin);
        Assert.Equal("tcp_syn", ssh.PhaseName);
        Assert.InRange(ssh.ExpiresIn, 58, 60);
        Assert.InRange(ssh.Age, 0u, 2u);

        var dns = Assert.Single(flows, f => f.Proto == 17);
        Assert.True(dns.IsIPv6);
        Assert.Equal((IPAddress.Parse("2001:db8::10"), (ushort)5353, IPAddress.Parse("2001:db8:1::9"), (ushort)53),
            (dns.Src, dns.Sport, dns.Dst, dns.Dport));
        Assert.Equal(FwCtOrigin.Egress, dns.Origin);
        Assert.Equal("udp", dns.PhaseName);

        var ping = Assert.Single(flows, f => f.Proto == 1);
        Assert.Equal((IPAddress.Parse("192.0.2.10"), (ushort)77, IPAddress.Parse("198.18.0.7")), (ping.Src, ping.Sport, ping.Dst));
        Assert.Equal("icmp", ping.PhaseName);

        // The answer moves the UDP flow to udp_replied; the filters take flows by the original tuple.
        Assert.Equal(XdpAction.Pass, Live(Frame.Udp("2001:db8:1::9", "2001:db8::10", 53, 5353)));
        Assert.Equal("udp_replied", Assert.Single(table.Flows(new ConntrackFilter(Proto: 17))).PhaseName);
        Assert.Single(table.Flows(new ConntrackFilter(Src: ConntrackFilter.ParsePrefix("198.18.0.0/15"))));
        Assert.Single(table.Flows(new ConntrackFilter(Dst: ConntrackFilter.ParsePrefix("198.18.0.0/15"))));
        Assert.Empty(table.Flows(new ConntrackFilter(Src: ConntrackFilter.ParsePrefix("2001:db8:1::/48"))));
        Assert.Single(table.Flows(new ConntrackFilter(Dst: ConntrackFilter.ParsePrefix("2001:db8:1::/48"))));

        var counts = StatsSnapshot.Read(_veth.Name).Conntrack!;
        Assert.Equal((3, 3UL, 0UL, 0UL, 0UL), (counts.Entries, counts.Inserts, counts.Evictions, counts.Removed, counts.InsertFailures));
    }

    [Fact]
    public void TheSweepRemovesExpiredFlowsOnlyAndCountsThem()
    {
        Firewall.Attach(_veth.Name, Image(TrackAll), Origin, XdpMode.Native);
        for (ushort p = 1; p <= 4; p++)
            Assert.Equal(XdpAction.Pass, Live(Frame.Tcp("198.18.0.1", "192.0.2.10", p, 80)));
        using var table = Table();
        // Two flows age past their tcp_syn timeout (60 s): written back with an old last second, as if idle since.
        using (var map = BpfMap.OpenPinned(PinLayout.Conntrack(_veth.Name)))
        {
            foreach (var f in table.Flows().Where(f => f.Sport <= 2).ToList())
                map.Update(f.Key, f.Entry with { LastSeen = f.Entry.LastSeen - 61 });
        }
        Assert.Equal(2, table.Flows().Count(f => f.Expired));

        Assert.Equal(2, table.Sweep());
        Assert.Equal([3, 4], table.Flows().Select(f => (int)f.Sport).Order());
        Assert.Equal(0, table.Sweep());
        var counts = StatsSnapshot.Read(_veth.Name).Conntrack!;
        Assert.Equal((2, 4UL, 2UL, 0UL), (counts.Entries, counts.Inserts, counts.Removed, counts.Evictions));
    }

    [Fact]
    public void AFlowRestartedInPlaceIsAReuseNotANewElement()
    {
        Firewall.Attach(_veth.Name, Image(TrackAll), Origin, XdpMode.Native);
        var syn = Frame.Tcp("198.18.0.1", "192.0.2.10", 1000, 80);
        Assert.Equal(XdpAction.Pass, Live(syn));
        using var table = Table();
        using (var map = BpfMap.OpenPinned(PinLayout.Conntrack(_veth.Name)))
        {
            var f = Assert.Single(table.Flows());
            map.Update(f.Key, f.Entry with { LastSeen = f.Entry.LastSeen - 61 });
        }
        Assert.Equal(XdpAction.Pass, Live(syn));   // expired, so new: track-tcp starts it again in its old entry
        var again = Assert.Single(table.Flows());
        Assert.False(again.Expired);
        var counts = StatsSnapshot.Read(_veth.Name).Conntrack!;
        Assert.Equal((1, 2UL, 1UL, 0UL), (counts.Entries, counts.Inserts, counts.Reuses, counts.Evictions));
    }

    [Fact]
    public void AFullTableEvictsTheLeastRecentlyUsedAndCountsIt()
    {
        Firewall.Attach(_veth.Name, Image(TrackAll), Origin, XdpMode.Native);
        const int Flows = 3000;
        for (int i = 0; i < Flows; i++)
            Assert.Equal(XdpAction.Pass, Live(Frame.Tcp(IPAddress.Parse($"198.18.{i / 250}.{i % 250 + 1}"), IPAddress.Parse("192.0.2.10"), 40000, 80)));
        var counts = StatsSnapshot.Read(_veth.Name).Conntrack!;
        Assert.Equal(1024u, counts.Max);
        Assert.Equal((ulong)Flows, counts.Inserts);
        Assert.Equal(0UL, counts.InsertFailures);
        Assert.InRange(counts.Entries, 1, 1024);
        Assert.Equal((ulong)(Flows - counts.Entries), counts.Evictions);   // every flow not there was evicted
        Assert.True(counts.Evictions >= Flows - 1024);
        // The newest flow is still there; the oldest went first.
        using var table = Table();
        Assert.Single(table.Flows(new ConntrackFilter(Src: ConntrackFilter.ParsePrefix($"198.18.{(Flows - 1) / 250}.{(Flows - 1) % 250 + 1}"))));
        Assert.Empty(table.Flows(new ConntrackFilter(Src: ConntrackFilter.ParsePrefix("198.18.0.1"))));
    }

    [Fact]
    public void FlushRemovesWhatTheFilterTakesAndTheirPacketsAreNewAgain()
    {
        Firewall.Attach(_veth.Name, Image(Fw.Testing.ConntrackPolicies.RepliesAndSshIn), Origin, XdpMode.Native);
        Leave(Frame.Tcp("192.0.2.10", "198.18.0.1", 50000, 443));
        Leave(Frame.Udp("192.0.2.10", "198.18.0.1", 50001, 53));
        Leave(Frame.Udp("192.0.2.10", "198.19.0.1", 50002, 53));
        var reply = Frame.Udp("198.18.0.1", "192.0.2.10", 53, 50001);
        Assert.Equal(XdpAction.Pass, Live(reply));
        using var table = Table();
        Assert.Equal(1, table.Flush(new ConntrackFilter(Proto: 17, Dst: ConntrackFilter.ParsePrefix("198.18.0.0/16"))));
        Assert.Equal(XdpAction.Drop, Live(reply));   // its flow is gone: new, default drop
        Assert.Equal(2, table.Flows().Count());
        Assert.Equal(2, table.Flush(ConntrackFilter.All));
        Assert.Empty(table.Flows());
        var counts = StatsSnapshot.Read(_veth.Name).Conntrack!;
        Assert.Equal((0, 3UL, 3UL, 0UL), (counts.Entries, counts.Inserts, counts.Removed, counts.Evictions));
    }

    [Fact]
    public void ARevertToAStatefulGenerationPutsItsEgressProgramBack()
    {
        Firewall.Attach(_veth.Name, Image(Fw.Testing.ConntrackPolicies.RepliesAndSshIn), Origin, XdpMode.Native);
        int ifindex = NetInterface.Index(_veth.Name);
        uint Egress() => TcFilter.QueryEgress(ifindex, EgressTracker.Handle, EgressTracker.Priority);
        uint first = Egress();
        Assert.NotEqual(0u, first);

        // A stateless change waiting for confirmation: no egress side while it runs...
        var noTimer = new ConfirmRequest(TimeSpan.FromMinutes(5), _ => { });
        Firewall.Reload(_veth.Name, Image("rules:\n  - action: pass\n"), Origin, noTimer);
        Assert.Equal(0u, Egress());
        // ...and the revert puts the first generation's own program back: replies come in again.
        Firewall.Revert(_veth.Name);
        Assert.Equal(first, Egress());
        Assert.True(EgressTracker.IsAttached(_veth.Name));
        Leave(Frame.Tcp("192.0.2.10", "198.18.0.1", 50000, 443));
        Assert.Equal(XdpAction.Pass, Live(Frame.Tcp("198.18.0.1", "192.0.2.10", 443, 50000, TcpFlags.Ack)));

        // Other timeouts waiting for confirmation, reverted: the first program again, not the second.
        Firewall.Reload(_veth.Name, Image("conntrack:\n  timeouts: {udp: 5}\n" + Fw.Testing.ConntrackPolicies.RepliesAndSshIn), Origin, noTimer);
        Assert.NotEqual(first, Egress());
        Firewall.Revert(_veth.Name);
        Assert.Equal(first, Egress());
    }

    private string Qdiscs() => TestVeth.Tc("qdisc", "show", "dev", _veth.Name);

    [Fact]
    public void DetachRemovesTheClsactQdiscFwMadeAndKeepsOneItFound()
    {
        Firewall.Attach(_veth.Name, Image(Fw.Testing.ConntrackPolicies.RepliesAndSshIn), Origin, XdpMode.Native);
        Assert.Contains("clsact", Qdiscs());
        Firewall.Detach(_veth.Name);
        Assert.DoesNotContain("clsact", Qdiscs());   // as fw found the interface
        Assert.False(File.Exists(EgressTracker.ClsactMarker(_veth.Name)));

        TestVeth.Tc("qdisc", "add", "dev", _veth.Name, "clsact");   // someone else's
        Firewall.Attach(_veth.Name, Image(Fw.Testing.ConntrackPolicies.RepliesAndSshIn), Origin, XdpMode.Native);
        Firewall.Detach(_veth.Name);
        Assert.Contains("clsact", Qdiscs());
    }
}
