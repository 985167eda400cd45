using System.Diagnostics;
using Fw.Bpf;
using Fw.Compiler;
using Fw.Kernel;
using Fw.Packets;
using Fw.Rules;
using Fw.Testing.Reference;
using Xunit.Abstractions;

namespace Fw.Tests.Kernel;

/// <summary>
/// Issue 13, inbound side: the classifier's flow table (bpf/fw_conntrack.h) against the reference flow table,
/// packet by packet through random sequences of flows: track rules admitting flows, packets of those flows both
/// ways, FIN and RST, echo by identifier, ICMP errors quoting tracked and unknown flows, fragments. Every verdict,
/// reason and rule must be equal. (The egress side, flows that leave, is not built yet.)
/// </summary>
public class ConntrackDifferentialTests(ITestOutputHelper output)
{
    private const string Policy = Fw.Testing.ConntrackPolicies.TrackMore;

    private static readonly string[] Peers4 = ["198.18.0.1", "198.18.0.2", "198.18.0.3"];
    private static readonly string[] Peers6 = ["2001:db8:1::1", "2001:db8:1::2"];
    private const string Local4 = "192.0.2.10", Local6 = "2001:db8::10";

    /// <summary>Whole seconds of CLOCK_MONOTONIC, the clock the data plane counts in (its coarse reading).</summary>
    private static long Now() => Stopwatch.GetTimestamp() / Stopwatch.Frequency;

    [Theory]
    [InlineData(1)]
    [InlineData(2)]
    [InlineData(3)]
    public void KernelAgreesWithTheReferenceFlowTable(int seed)
    {
        var rs = Fw.Tests.Rules.RulesTestKit.ParseOk(Policy);
        var image = RulesetCompiler.Compile(rs);
        Assert.True(image.Fields.HasFlag(FieldMask.State));
        using var c = Classifier.Load(image, new ClassifierOptions { Trace = true });
        // The egress side, on the same table: frames that leave start or refresh their flows.
        using var egress = BpfObject.Open(EgressTracker.ObjectPath);
        egress.ReuseMap(Classifier.ConntrackMap, c.Map(Classifier.ConntrackMap));
        egress.Load();
        int egressFd = egress.ProgramFd(EgressTracker.Program);
        var table = new ReferenceFlowTable(rs.Conntrack);
        var rng = new Random(seed);
        var byReason = new Dictionary<string, int>();
        for (int i = 0; i < 3000; i++)
        {
            if (rng.Next(5) == 0)
            {
                byte[] leaving = Leaving(rng).Build();
                Assert.Equal(0u, (uint)BpfObject.TestRun(egressFd, leaving).Verdict);   // TC_ACT_OK: never drops
                table.Egress(leaving, Now());
                byReason["egress"] = byReason.GetValueOrDefault("egress") + 1;
                continue;
            }
            byte[] frame = Next(rng).Build();
            var parsed = ReferenceEvaluator.Parse(frame);
            if (parsed.Kind == FrameKind.Ip)
            {
                string st = table.StateOf(parsed, frame, Now(), out _).ToString();
                byReason[st] = byReason.GetValueOrDefault(st) + 1;
            }
            var want = table.Evaluate(rs, frame, Now());
            var got = c.TestRun(frame);
            var trace = c.ReadTrace();
            string what = $"seed {seed}, packet {i}: {ReferenceEvaluator.Parse(frame)}";
            Assert.True(Expected(want.Action) == got.Verdict, $"{what}: kernel {got.Verdict}, reference {want}");
            Assert.True((uint)want.Reason == trace.Reason, $"{what}: kernel reason {trace.Reason}, reference {want}");
            if (want.Reason == Reason.Rule)
                Assert.True((uint)want.RuleIndex == trace.Rule, $"{what}: kernel rule {trace.Rule}, reference {want}");
            string key = want.Reason == Reason.Rule ? rs.Rules[want.RuleIndex].Name : want.Reason.ToString();
            byReason[key] = byReason.GetValueOrDefault(key) + 1;
        }
        output.WriteLine(string.Join(", ", byReason.OrderBy(kv => kv.Key).Select(kv => $"{kv.Key} {kv.Value}")));
        // The sequences reach every rule, the established and related ones included.
        foreach (var r in rs.Rules)
            Assert.True(byReason.GetValueOrDefault(r.Name) > 0, $"no packet took rule {r.Name}");
        foreach (var st in Enum.GetValues<ConnState>())
            Assert.True(byReason.GetValueOrDefault(st.ToString()) > 0, $"no packet was {st}");
    }

    /// <summary>A frame leaving: a connection, query or ping this host starts, or its answer to a tracked flow.</summary>
    private static Frame Leaving(Random rng)
    {
        bool v6 = rng.Next(4) == 0;
        string peer = v6 ? Peers6[rng.Next(Peers6.Length)] : Peers4[rng.Next(Peers4.Length)];
        string local = v6 ? Local6 : Local4;
        ushort port = (ushort)(40000 + rng.Next(4));
        return rng.Next(5) switch
        {
            0 => Frame.Tcp(local, peer, port, 443, rng.Next(3) == 0 ? TcpFlags.Fin | TcpFlags.Ack : TcpFlags.Syn),
            1 => Frame.Udp(local, peer, port, 123),
            2 => (v6 ? Frame.Icmpv6(local, peer, 128) : Frame.Icmp(local, peer, 8)).WithIcmp(h => h with { Rest = (uint)(9 + rng.Next(2)) << 16 | 1 }),
            3 => Frame.Tcp(local, peer, 22, port, TcpFlags.Syn | TcpFlags.Ack),   // the answer to a tracked ssh flow
            _ => Frame.Udp(local, peer, 53, port),                                // the answer to a tracked query
        };
    }

    private static XdpAction Expected(RuleAction a) => a == RuleAction.Pass ? XdpAction.Pass : XdpAction.Drop;

    /// <summary>
    /// A packet of a small world: few peers and ports, so flows repeat; tracked openings, packets both ways (an
    /// inbound packet "from us" is the flow's other direction), FIN/RST, echo, errors quoting flows, fragments.
    /// </summary>
    private static Frame Next(Random rng)
    {
        bool v6 = rng.Next(4) == 0;
        string peer = v6 ? Peers6[rng.Next(Peers6.Length)] : Peers4[rng.Next(Peers4.Length)];
        string local = v6 ? Local6 : Local4;
        ushort port = (ushort)(40000 + rng.Next(4));
        bool reverse = rng.Next(4) == 0;   // the flow's other direction, arriving here too
        (string s, string d) = reverse ? (local, peer) : (peer, local);
        switch (rng.Next(10))
        {
            case 0:
            case 1:
            {
                var flags = rng.Next(6) switch
                {
                    0 => TcpFlags.Syn,
                    1 => TcpFlags.Syn | TcpFlags.Ack,
                    2 => TcpFlags.Fin | TcpFlags.Ack,
                    3 => TcpFlags.Rst,
                    _ => TcpFlags.Ack,
                };
                return reverse ? Frame.Tcp(s, d, 22, port, flags) : Frame.Tcp(s, d, port, 22, flags);
            }
            case 2:
            case 3:
                return reverse ? Frame.Udp(s, d, 53, port) : Frame.Udp(s, d, port, 53);
            case 4:
                return Frame.Udp(s, d, port, (ushort)(5000 + rng.Next(2)));   // a flow no rule tracks
            case 5:
            {
                byte type = v6 ? (byte)(rng.Next(2) == 0 ? 128 : 129) : (byte)(rng.Next(2) == 0 ? 8 : 0);
                ushort id = (ushort)(7 + rng.Next(2));
                var f = v6 ? Frame.Icmpv6(s, d, type) : Frame.Icmp(s, d, type);
                return f.WithIcmp(h => h with { Rest = (uint)id << 16 | 1 });
            }
            case 6:
            case 7:
            {
                // An ICMP error from a router, quoting a packet we sent to the peer (of a flow or not).
                var quoted = rng.Next(3) switch
                {
                    0 => Frame.Tcp(local, peer, 22, port, TcpFlags.Syn | TcpFlags.Ack),
                    1 => Frame.Udp(local, peer, 53, port),
                    _ => Frame.Udp(local, peer, 53, (ushort)(port + 100)),
                };
                byte[] q = quoted.Build();
                int take = v6 ? 48 : 28;
                string router = v6 ? "2001:db8:ff::1" : "198.19.255.1";
                byte type = v6 ? (byte)(1 + rng.Next(4)) : (byte)(rng.Next(4) switch { 0 => 3, 1 => 11, 2 => 12, _ => 5 });
                var e = v6 ? Frame.Icmpv6(router, local, type) : Frame.Icmp(router, local, type, 3);
                return e.WithPayload(q[14..(14 + take)]);
            }
            case 8:
                return rng.Next(2) == 0
                    ? Frame.Udp(s, d, port, 53).AsFragment((ushort)(rng.Next(2) * 1480), more: true)
                    : rng.Next(3) switch
                    {
                        // Answers to what this host started (Leaving): established while their flows live.
                        0 => Frame.Tcp(peer, local, 443, port, TcpFlags.Syn | TcpFlags.Ack),
                        1 => Frame.Udp(peer, local, 123, port),
                        _ => (v6 ? Frame.Icmpv6(peer, local, 129) : Frame.Icmp(peer, local, 0)).WithIcmp(h => h with { Rest = (uint)(9 + rng.Next(2)) << 16 | 1 }),
                    };
            default:
                return Frame.Ip(s, d, 47);   // GRE: a flow of its own, ports 0
        }
    }
}

/// <summary>
/// The flow table belongs to the interface: pinned beside fw_stats when the first ruleset that names state is
/// loaded, shared by the next generations (a tracked connection stays established across a reload), removed by detach.
/// </summary>
public sealed class ConntrackLifecycleTests : IDisposable
{
    private readonly TestVeth _veth = new();

    public void Dispose() => _veth.Dispose();

    private const string V1 = Fw.Testing.ConntrackPolicies.RepliesAndSshIn;

    private XdpAction Live(Frame f)
    {
        using var prog = FdHandle.OpenPinned(PinLayout.Prog(_veth.Name));
        return BpfObject.TestRun(prog.Fd, f.Build()).Verdict;
    }

    private static MapImage Image(string yaml) => RulesetCompiler.Compile(Fw.Tests.Rules.RulesTestKit.ParseOk(yaml));

    [Fact]
    public void TheTableOutlivesAReloadAndGoesWithDetach()
    {
        var origin = new ImageOrigin("/dev/null", 0);
        Firewall.Attach(_veth.Name, Image(V1), origin, XdpMode.Native);
        Assert.True(File.Exists(PinLayout.Conntrack(_veth.Name)));
        int ifindex = NetInterface.Index(_veth.Name);
        uint egress = TcFilter.QueryEgress(ifindex, EgressTracker.Handle, EgressTracker.Priority);
        Assert.NotEqual(0u, egress);   // the egress side records flows that leave
        var ack = Frame.Tcp("198.18.0.1", "192.0.2.10", 40000, 22, TcpFlags.Ack);
        Assert.Equal(XdpAction.Drop, Live(ack));                                   // no flow yet: new, default drop
        Assert.Equal(XdpAction.Pass, Live(Frame.Tcp("198.18.0.1", "192.0.2.10", 40000, 22)));   // ssh-in tracks it
        Assert.Equal(XdpAction.Pass, Live(ack));                                   // established
        Assert.Equal(1UL, StatsSnapshot.Read(_veth.Name).ConntrackInserts.Total.Packets);
        // A frame leaving (the pinned egress program, as TC runs it) starts its own flow, counted too.
        using (var leaving = FdHandle.OpenPinned(PinLayout.Egress(_veth.Name)))
            BpfObject.TestRun(leaving.Fd, Frame.Udp("192.0.2.10", "198.18.0.9", 5353, 53).Build());
        Assert.Equal(2UL, StatsSnapshot.Read(_veth.Name).ConntrackInserts.Total.Packets);
        Assert.Equal(XdpAction.Pass, Live(Frame.Udp("198.18.0.9", "192.0.2.10", 53, 5353)));   // its answer: established
        Assert.Equal(0UL, StatsSnapshot.Read(_veth.Name).ConntrackInsertFailures.Total.Packets);

        uint tableId = FdHandle.IdOfPinned(PinLayout.Conntrack(_veth.Name));
        Firewall.Reload(_veth.Name, Image(V1.Replace("default: drop", "default: drop\nmalformed: drop")), origin);
        Assert.Equal(tableId, FdHandle.IdOfPinned(PinLayout.Conntrack(_veth.Name)));   // the same table
        Assert.Equal(XdpAction.Pass, Live(ack));                                   // still established
        Assert.Equal(XdpAction.Drop, Live(Frame.Tcp("198.18.0.2", "192.0.2.10", 40000, 22, TcpFlags.Ack)));
        Assert.NotEqual(0u, TcFilter.QueryEgress(ifindex, EgressTracker.Handle, EgressTracker.Priority));   // replaced in place

        // A ruleset that names no state: no egress program (the table stays pinned for the next one that does).
        Firewall.Reload(_veth.Name, Image("rules:\n  - action: pass\n"), origin);
        Assert.Equal(0u, TcFilter.QueryEgress(ifindex, EgressTracker.Handle, EgressTracker.Priority));
        Assert.False(EgressTracker.IsAttached(_veth.Name));

        Firewall.Detach(_veth.Name);
        Assert.False(Directory.Exists(PinLayout.Dir(_veth.Name)));
    }
}

/// <summary>
/// Real traffic through the lab (fw on fw0, the client's side, `default: drop`): a connection the server opens to the
/// client leaves through fw0, its flow recorded by the egress program, so the client's answers come back as
/// established; a connection the client opens is new and dropped; ping (by echo identifier) and a UDP query likewise.
/// </summary>
public sealed class ConntrackLabTests : IDisposable
{
    private readonly Fw.Lab.Lab _lab = new(Fw.Lab.LabNaming.Unique);

    public void Dispose() => _lab.Dispose();

    private const string Policy = """
        default: drop
        rules:
          - name: replies
            state: [established, related]
            action: pass
        """;

    [Fact]
    public void RepliesToConnectionsThatLeaveComeBackOthersDoNot()
    {
        _lab.Fw.Run(() => Firewall.Attach(_lab.FwClientIf, RulesetCompiler.Compile(Fw.Tests.Rules.RulesTestKit.ParseOk(Policy)),
            new ImageOrigin("/dev/null", 0), XdpMode.Native));
        try
        {
            _lab.Fw.Run(() =>
            {
                Assert.True(EgressTracker.IsAttached(_lab.FwClientIf));
                Assert.NotEqual(0u, TcFilter.QueryEgress(NetInterface.Index(_lab.FwClientIf), EgressTracker.Handle, EgressTracker.Priority));
            });
            // What must get through gets 5 s (the suite loads both CPUs; the lab's default is 2 s); what must not, 1 s.
            var ample = TimeSpan.FromSeconds(5);
            var outbound = _lab.Tcp(Fw.Lab.LabNet.ServerV4, Fw.Lab.LabNet.ClientV4, 8080, timeout: ample);
            Assert.True(outbound.Delivered, outbound.ToString());
            var outbound6 = _lab.Tcp(Fw.Lab.LabNet.ServerV6, Fw.Lab.LabNet.ClientV6, 8081, timeout: ample);
            Assert.True(outbound6.Delivered, outbound6.ToString());
            Assert.True(_lab.Ping(Fw.Lab.LabNet.ServerV4, Fw.Lab.LabNet.ClientV4, ample).Replied);
            // A UDP query from the server side and its answer; the client's own datagram to another port is new.
            Assert.True(_lab.Udp(Fw.Lab.LabNet.ServerV4, 40053, Fw.Lab.LabNet.ClientV4, 5353, timeout: ample).Delivered);
            var answer = _lab.Udp(Fw.Lab.LabNet.ClientV4, 5353, Fw.Lab.LabNet.ServerV4, 40053, timeout: ample);
            Assert.True(answer.Delivered, answer.ToString());
            Assert.False(_lab.Udp(Fw.Lab.LabNet.ClientV4, 5353, Fw.Lab.LabNet.ServerV4, 40054, timeout: TimeSpan.FromSeconds(1)).Arrived);

            var inbound = _lab.Tcp(Fw.Lab.LabNet.ClientV4, Fw.Lab.LabNet.ServerV4, 8082, timeout: TimeSpan.FromSeconds(1));
            Assert.False(inbound.Connected, inbound.ToString());
            Assert.False(_lab.Ping(Fw.Lab.LabNet.ClientV4, Fw.Lab.LabNet.ServerV4, TimeSpan.FromSeconds(1)).Replied);
            var s = _lab.Fw.Run(() => StatsSnapshot.Read(_lab.FwClientIf));
            Assert.True(s.Rules.Single(r => r.Name == "replies").Counter.Total.Packets > 0);
            Assert.True(s.Default.Total.Packets > 0);
        }
        finally
        {
            _lab.Fw.Run(() => Firewall.Detach(_lab.FwClientIf));
        }
        _lab.Fw.Run(() => Assert.Equal(0u, TcFilter.QueryEgress(NetInterface.Index(_lab.FwClientIf), EgressTracker.Handle, EgressTracker.Priority)));
    }
}
