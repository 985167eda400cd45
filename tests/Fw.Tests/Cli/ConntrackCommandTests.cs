using System.Text.Json;
using Fw.Bpf;
using Fw.Compiler;
using Fw.Kernel;
using Fw.Packets;
using Fw.Tests.Kernel;
using Fw.Tests.Rules;
using static Fw.Tests.Cli.Fwctl;

namespace Fw.Tests.Cli;

/// <summary>
/// fwctl conntrack (list, filters, flush; text and JSON), the table's counts in fwctl stats, and fwctl test naming
/// the state of a packet and its flow, on a real attached veth with flows made by the data plane.
/// </summary>
public sealed class ConntrackCommandTests : IDisposable
{
    private readonly TestVeth _veth = new();

    public ConntrackCommandTests() => TestVeth.Ip("link", "set", _veth.Peer, "down");

    public void Dispose() => _veth.Dispose();

    private void Attach(string yaml) =>
        Firewall.Attach(_veth.Name, RulesetCompiler.Compile(RulesTestKit.ParseOk(yaml)), new ImageOrigin("/dev/null", 0), XdpMode.Native);

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

    [Fact]
    public void ListsFlowsWithFiltersAndFlushesThem()
    {
        Attach(Fw.Testing.ConntrackPolicies.RepliesAndSshIn);
        Assert.Equal(XdpAction.Pass, Live(Frame.Tcp("198.18.0.1", "192.0.2.10", 40000, 22)));
        Leave(Frame.Udp("2001:db8::10", "2001:db8:1::9", 5353, 53));
        Leave(Frame.Icmp("192.0.2.10", "198.18.0.7", 8).WithIcmp(h => h with { Rest = 77u << 16 | 1 }));

        var (rc, stdout, stderr) = Run("conntrack", _veth.Name);
        Assert.True(rc == 0, stderr);
        Assert.Contains("PROTO", stdout);
        Assert.Matches(@"tcp\s+198\.18\.0\.1:40000\s+192\.0\.2\.10:22\s+tcp_syn\s+tracked\s+\d+s\s+(59|60)s", stdout);
        Assert.Matches(@"udp\s+\[2001:db8::10\]:5353\s+\[2001:db8:1::9\]:53\s+udp\s+egress", stdout);
        Assert.Matches(@"icmp\s+192\.0\.2\.10 id 77\s+198\.18\.0\.7 id 77\s+icmp\s+egress", stdout);
        Assert.Contains($"{_veth.Name}: 3 of 262,144 entries", stdout);

        (rc, stdout, stderr) = Run("conntrack", _veth.Name, "--json", "--proto", "udp");
        Assert.True(rc == 0, stderr);
        using (var doc = JsonDocument.Parse(stdout))
        {
            var root = doc.RootElement;
            Assert.Equal(_veth.Name, root.GetProperty("interface").GetString());
            Assert.Equal(3, root.GetProperty("entries").GetInt32());
            Assert.Equal(262_144, root.GetProperty("max").GetInt32());
            Assert.Equal(3, root.GetProperty("inserts").GetInt32());
            Assert.Equal(0, root.GetProperty("evictions").GetInt32());
            var flow = Assert.Single(root.GetProperty("flows").EnumerateArray());
            Assert.Equal("udp", flow.GetProperty("proto").GetString());
            Assert.Equal("ipv6", flow.GetProperty("family").GetString());
            Assert.Equal("2001:db8::10", flow.GetProperty("src").GetString());
            Assert.Equal(5353, flow.GetProperty("sport").GetInt32());
            Assert.Equal("2001:db8:1::9", flow.GetProperty("dst").GetString());
            Assert.Equal(53, flow.GetProperty("dport").GetInt32());
            Assert.Equal("udp", flow.GetProperty("state").GetString());
            Assert.Equal("egress", flow.GetProperty("origin").GetString());
            Assert.InRange(flow.GetProperty("expires_in").GetInt32(), 28, 30);
        }
        (_, stdout, _) = Run("conntrack", _veth.Name, "--json", "--src", "198.18.0.0/15");
        Assert.Single(JsonDocument.Parse(stdout).RootElement.GetProperty("flows").EnumerateArray());
        (_, stdout, _) = Run("conntrack", _veth.Name, "--json", "--dst", "198.18.0.0/15", "--proto", "icmp");
        Assert.Single(JsonDocument.Parse(stdout).RootElement.GetProperty("flows").EnumerateArray());

        // fwctl stats shows the table's fill and counters.
        (rc, stdout, _) = Run("stats", _veth.Name, "--json");
        Assert.Equal(0, rc);
        var ct = JsonDocument.Parse(stdout).RootElement.GetProperty("conntrack");
        Assert.Equal((3, 262_144, 3, 0, 0), (ct.GetProperty("entries").GetInt32(), ct.GetProperty("max").GetInt32(),
            ct.GetProperty("inserts").GetInt32(), ct.GetProperty("evictions").GetInt32(), ct.GetProperty("removed").GetInt32()));

        // Flush by filter, then the rest; the replies of a flushed flow are new again.
        (rc, stdout, stderr) = Run("conntrack", "flush", _veth.Name, "--proto", "tcp");
        Assert.True(rc == 0, stderr);
        Assert.Equal($"{_veth.Name}: 1 flows removed\n", stdout);
        Assert.Equal(XdpAction.Drop, Live(Frame.Tcp("198.18.0.1", "192.0.2.10", 40000, 22, TcpFlags.Ack)));
        (rc, stdout, _) = Run("conntrack", "flush", _veth.Name, "--json");
        Assert.Equal(0, rc);
        Assert.Equal(2, JsonDocument.Parse(stdout).RootElement.GetProperty("removed").GetInt32());
        (_, stdout, _) = Run("conntrack", _veth.Name, "--json");
        Assert.Empty(JsonDocument.Parse(stdout).RootElement.GetProperty("flows").EnumerateArray());
        Assert.Equal(3, JsonDocument.Parse(stdout).RootElement.GetProperty("removed").GetInt32());
    }

    [Theory]
    [InlineData("--proto", "sctpx")]
    [InlineData("--src", "198.18.0.1/33")]
    [InlineData("--src", "198.18.0.1/8")]
    [InlineData("--dst", "not-an-address")]
    [InlineData("--limit", "-1")]
    [InlineData("--src", "10")]
    public void BadFiltersAreUsageErrorsThatTouchNothing(string option, string value)
    {
        Attach(Fw.Testing.ConntrackPolicies.RepliesAndSshIn);
        Leave(Frame.Udp("192.0.2.10", "198.18.0.1", 5353, 53));
        var (rc, _, stderr) = Run("conntrack", "flush", _veth.Name, option, value);
        Assert.Equal(2, rc);
        Assert.Contains(option, stderr);
        (rc, _, stderr) = Run("conntrack", _veth.Name, option, value);
        Assert.Equal(2, rc);
        Assert.Single(ConntrackTable.Open(_veth.Name)!.Flows());   // nothing flushed
    }

    [Fact]
    public void WithoutATableItSaysSo()
    {
        Attach("rules:\n  - action: pass\n");
        var (rc, stdout, stderr) = Run("conntrack", _veth.Name, "--json");
        Assert.Equal(1, rc);
        Assert.Contains("no flow table", stderr);
        Assert.Contains("no flow table", JsonDocument.Parse(stdout).RootElement.GetProperty("error").GetString());
        Assert.Equal(1, Run("conntrack", "flush", _veth.Name).Exit);
    }

    [Fact]
    public void TestNamesTheStateAndTheFlowAndLeavesTheTableAlone()
    {
        Attach(Fw.Testing.ConntrackPolicies.RepliesAndSshIn);
        Leave(Frame.Tcp("192.0.2.10", "198.18.0.1", 50000, 443));
        var before = ConntrackTable.Open(_veth.Name)!.Flows().Single();

        var (rc, stdout, stderr) = Run("test", _veth.Name,
            "--packet", "tcp 198.18.0.1:443 -> 192.0.2.10:50000 syn,ack",
            "--packet", "tcp 198.18.0.1:443 -> 192.0.2.10:50001 syn,ack",
            "--packet", "tcp 198.18.0.2:40000 -> 192.0.2.10:22 syn");
        Assert.True(rc == 0, stderr);
        var lines = stdout.TrimEnd('\n').Split('\n');
        Assert.Equal(3, lines.Length);
        Assert.Contains("PASS", lines[0]);
        Assert.EndsWith("rule replies (#1); state established: tcp 192.0.2.10:50000 -> 198.18.0.1:443 (egress, tcp_syn)", lines[0]);
        Assert.EndsWith("default; state new", lines[1]);
        Assert.EndsWith("rule ssh-in (#2); state new", lines[2]);

        (rc, stdout, _) = Run("test", _veth.Name, "--json", "--packet", "tcp 198.18.0.1:443 -> 192.0.2.10:50000 ack");
        Assert.Equal(0, rc);
        var p = Assert.Single(JsonDocument.Parse(stdout).RootElement.GetProperty("packets").EnumerateArray());
        Assert.Equal("established", p.GetProperty("state").GetString());
        Assert.Equal("192.0.2.10", p.GetProperty("flow").GetProperty("src").GetString());
        Assert.Equal(443, p.GetProperty("flow").GetProperty("dport").GetInt32());

        // Read only: the SYN-ACK moved no phase, and the tracked SSH SYN made no flow.
        var after = ConntrackTable.Open(_veth.Name)!.Flows().ToList();
        var same = Assert.Single(after);
        Assert.Equal(before.Entry, same.Entry);
        Assert.Equal(1UL, StatsSnapshot.Read(_veth.Name).ConntrackInserts.Total.Packets);
    }
}
