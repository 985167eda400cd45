using Fw.Bpf;
using Fw.Control;
using Fw.Kernel;
using Fw.Packets;
using Fw.Testing.Reference;
using Fw.Traffic;

namespace Fw.Tests.Kernel;

/// <summary>
/// fw on a jumbo-MTU interface: a veth pair with MTU 9000, where a driver hands XDP a frame in several buffers
/// and takes only programs that handle that (SEC("xdp.frags")) in native mode. Real frames are written into the
/// peer (<see cref="PacketSender"/>, an AF_PACKET TX ring) and counted by the attached program.
/// </summary>
public sealed class JumboMtuTests : IDisposable
{
    private const int Mtu = 9000, Jumbo = Mtu + 14;

    private readonly TestVeth _veth = new(mtu: Mtu);
    private readonly string _dir = Directory.CreateTempSubdirectory("fw-jumbo-").FullName;

    public void Dispose()
    {
        _veth.Dispose();
        Directory.Delete(_dir, recursive: true);
    }

    private const string Rules = """
        default: drop
        malformed: drop
        non_ip: pass
        rules:
          - { name: jumbo, src: 198.18.7.0/24, proto: udp, dport: 9000, action: pass }
          - { name: deep, src: "2001:db8:7::/48", proto: udp, dport: 9000, action: pass }
        """;

    private static byte[] Padded(Frame f) => f.WithPayload(Jumbo - f.Build().Length + f.Payload.Length).Build();

    // To a foreign MAC: after XDP_PASS the host's stack discards it (PACKET_OTHERHOST).
    private static byte[] JumboUdp() => Padded(Frame.Udp("198.18.7.7", "198.18.8.8", 40000, 9000));

    /// <summary>IPv6 whose UDP header starts 4 KiB in, past any first buffer a 4 KiB page holds.</summary>
    private static byte[] DeepV6() => Padded(Frame.Udp("2001:db8:7::7", "2001:db8:8::8", 40000, 9000)
        .WithExtensions(Ipv6Ext.HopByHop(2048), Ipv6Ext.DestOptions(2048)));

    [Fact]
    public void AttachesNativeAndCountsWholeJumboFrames()
    {
        string path = Path.Combine(_dir, "rules.yaml");
        File.WriteAllText(path, Rules);
        var check = RulesCheck.Check(path);
        Assert.True(check.Ok, string.Join("\n", check.Diagnostics));
        var rs = check.Ruleset!;
        Assert.Equal("jumbo", rs.Rules[ReferenceEvaluator.Evaluate(rs, JumboUdp()).RuleIndex].Name);
        Assert.Equal("deep", rs.Rules[ReferenceEvaluator.Evaluate(rs, DeepV6()).RuleIndex].Name);   // whole, it matches
        Assert.Equal(Reason.Malformed, ReferenceEvaluator.Evaluate(rs, DeepV6(), BpfObject.TestRunMaxLinear).Reason);

        var attached = Deployment.Attach(_veth.Name, check, XdpMode.Native);
        Assert.Equal(XdpMode.Native, attached.Mode);
        Assert.Equal(XdpMode.Native, XdpLinks.Query(NetInterface.Index(_veth.Name)).Mode);

        const int Frames = 200, Deep = 20;
        using var sender = new PacketSender(_veth.Peer, maxFrame: Jumbo, ringFrames: 64);
        var before = StatsSnapshot.Read(_veth.Name);
        var sent = sender.Send(JumboUdp(), [], Frames);
        var deep = sender.Send(DeepV6(), [], Deep);
        Assert.Equal((Frames, 0L), (sent.Frames, sent.Refused));
        Assert.Equal((Deep, 0L), (deep.Frames, deep.Refused));

        // A veth runs the receiving end's XDP in the sender's softirq: every frame is counted when Send returns.
        var s = StatsSnapshot.Read(_veth.Name);
        var jumbo = s.Rules.Single(r => r.Name == "jumbo").Counter.Total;
        Assert.Equal(((ulong)Frames, (ulong)Frames * Jumbo), (jumbo.Packets, jumbo.Bytes));
        // The deep frames' UDP header is past the first buffer: malformed, the whole frame counted.
        Assert.Equal(0UL, s.Rules.Single(r => r.Name == "deep").Counter.Total.Packets);
        ulong malformed = s.Malformed.Total.Packets - before.Malformed.Total.Packets;
        ulong malformedBytes = s.Malformed.Total.Bytes - before.Malformed.Total.Bytes;
        Assert.Equal(((ulong)Deep, (ulong)Deep * Jumbo), (malformed, malformedBytes));
    }
}
