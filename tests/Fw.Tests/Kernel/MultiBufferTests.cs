using Fw.Bpf;
using Fw.Kernel;
using Fw.Packets;
using Fw.Rules;
using Fw.Testing.Reference;

namespace Fw.Tests.Kernel;

/// <summary>
/// Multi-buffer frames (XDP frags) through BPF_PROG_TEST_RUN: the frame's first <c>linear</c> bytes in its first
/// buffer (the xdp_md context's data_end), the rest in page fragments, as a driver hands a jumbo frame to XDP.
/// The contract: headers are read from the first buffer only, and a frame whose headers do not all lie in it is
/// malformed; counters count the whole frame. Rows are {description, frame, first buffer, verdict, rule or
/// reason} over <see cref="ClassifierFixtureTests.Rules"/>; each checks the traced reason, both counters (by
/// the whole frame's bytes) and the reference evaluator given the same first buffer.
/// </summary>
public sealed class MultiBufferTests(ClassifierFixtureTests.Loaded k) : IClassFixture<ClassifierFixtureTests.Loaded>
{
    private const string A = "198.18.0.1", B = "192.0.2.1", A6 = "2001:db8:aa::1", B6 = "2001:db8:bb::2";
    private const int Jumbo = 9014;   // MTU 9000 and the Ethernet header

    /// <summary>A frame padded with payload to <paramref name="length"/> bytes.</summary>
    private static Frame Padded(Frame f, int length) => f.WithPayload(length - f.Build().Length + f.Payload.Length);

    /// <summary>IPv6 with 4 KiB of extension headers (two of the longest, 2,048 bytes each) before its UDP header.</summary>
    private static Frame DeepV6(string src, ushort dport) =>
        Padded(Frame.Udp(src, B6, 40000, dport).WithExtensions(Ipv6Ext.HopByHop(2048), Ipv6Ext.DestOptions(2048)), Jumbo);

    private static readonly int Page = BpfObject.TestRunMaxLinear;   // 3,520 bytes with 4 KiB pages

    public static TheoryData<string, Frame, int, XdpAction, string> Rows => new()
    {
        // Jumbo frames as a driver builds them: a page's worth first, the headers in it.
        { "jumbo udp, headers in the first buffer", Padded(Frame.Udp(A, "192.0.2.53", 53, 40000), Jumbo), Page, XdpAction.Pass, "dns-sport" },
        { "jumbo tcp, headers in the first buffer", Padded(Frame.Tcp(A, B, 1, 1500), Jumbo), Page, XdpAction.Drop, "port-range" },
        { "jumbo v6 under qinq", Padded(Frame.Icmpv6(A6, B6, 128).WithQinQ(1, 2), Jumbo), Page, XdpAction.Drop, "icmpv6-echo" },
        { "jumbo, no rule", Padded(Frame.Udp(A6, B6, 1, 2), Jumbo), Page, XdpAction.Pass, "default" },
        { "jumbo non-ip", Frame.Raw(EtherTypes.Lldp, new byte[Jumbo - 14]), Page, XdpAction.Drop, "non-ip" },
        // Headers past the first buffer: malformed, though the whole frame would match (default or a rule).
        { "v6 with 4 KiB of extension headers", DeepV6(A6, 2), Page, XdpAction.Drop, "malformed" },
        { "v6 with 4 KiB of extension headers, a rule's", DeepV6("2001:db8::1", 2), Page, XdpAction.Drop, "malformed" },
        // The first buffer's end at each header's end (classified) and a byte before it (malformed).
        { "udp header ends the first buffer", Padded(Frame.Udp(A, "192.0.2.53", 53, 1), 5000), 14 + 20 + 8, XdpAction.Pass, "dns-sport" },
        { "udp header a byte past it", Padded(Frame.Udp(A, "192.0.2.53", 53, 1), 5000), 14 + 20 + 7, XdpAction.Drop, "malformed" },
        { "tcp header a byte past it", Padded(Frame.Tcp(A, B, 1, 2), 200), 14 + 20 + 19, XdpAction.Drop, "malformed" },
        { "tcp header ends it", Padded(Frame.Tcp(A, B, 1, 2), 200), 14 + 20 + 20, XdpAction.Pass, "default" },
        { "ipv4 options past it", Padded(Frame.Tcp(A, B, 1, 2).WithIpOptions(new byte[40]), 200), 14 + 59, XdpAction.Drop, "malformed" },
        { "v6 header a byte past it", Padded(Frame.Ip(A6, B6, 47), 200), 14 + 39, XdpAction.Drop, "malformed" },
        { "v6 header ends it, other proto", Padded(Frame.Ip(A6, B6, 47), 200), 14 + 40, XdpAction.Drop, "gre" },
        { "v6 extension header past it", Padded(Frame.Udp(A6, B6, 1, 2).WithExtensions(Ipv6Ext.DestOptions(24)), 200), 14 + 40 + 23, XdpAction.Drop, "malformed" },
        { "second vlan tag past it", Padded(Frame.Udp(A, B, 1, 2).WithQinQ(1, 2), 200), 14 + 4 + 3, XdpAction.Drop, "malformed" },
        { "non-first fragment needs no l4 header", Padded(Frame.Udp(A, "192.0.2.50", 1, 9).AsFragment(185), 3000), 14 + 20, XdpAction.Drop, "frag-proto-only" },
        { "ethernet only in the first buffer, arp", Padded(Frame.Arp(A, B), 100), 14, XdpAction.Drop, "non-ip" },
        { "ethernet only in the first buffer, ipv4", Padded(Frame.Udp(A, B, 1, 2), 100), 14, XdpAction.Drop, "malformed" },
        { "first buffer shorter than ethernet", Padded(Frame.Udp(A, B, 1, 2), 100), 13, XdpAction.Drop, "malformed" },
    };

    [Theory]
    [MemberData(nameof(Rows))]
    public void HeadersAreReadFromTheFirstBuffer(string description, Frame frame, int linear, XdpAction verdict, string expected)
    {
        byte[] bytes = frame.Build();
        Assert.True(linear < bytes.Length, $"{description}: {linear} of {bytes.Length} bytes is one buffer");
        var rs = k.Ruleset;
        var c = k.Classifier;
        uint slot = Slot(rs, expected), actionSlot = ActionSlot(verdict);
        lock (c)
        {
            var before = c.ReadCounter(slot);
            var beforeAction = c.ReadCounter(actionSlot);
            var run = BpfObject.TestRun(c.ProgramFd, bytes, linear: linear);
            var trace = c.ReadTrace();
            var after = c.ReadCounter(slot);
            var afterAction = c.ReadCounter(actionSlot);

            Assert.True(verdict == run.Verdict, $"{description}: verdict {run.Verdict}, expected {verdict}");
            Assert.Equal(expected, Name(rs, (FwReason)trace.Reason, trace.Rule));
            // The whole frame is counted, not its first buffer.
            Assert.Equal((1UL, (ulong)bytes.Length), (after.Packets - before.Packets, after.Bytes - before.Bytes));
            Assert.Equal((1UL, (ulong)bytes.Length), (afterAction.Packets - beforeAction.Packets, afterAction.Bytes - beforeAction.Bytes));
        }

        var oracle = ReferenceEvaluator.Evaluate(rs, bytes, linear);
        Assert.Equal(expected, oracle.Reason switch
        {
            Reason.Rule => rs.Rules[oracle.RuleIndex].Name,
            Reason.Default => "default",
            Reason.Malformed => "malformed",
            _ => "non-ip",
        });
    }

    /// <summary>The deep IPv6 rows are malformed only for where their first buffer ends: whole, they match.</summary>
    [Fact]
    public void TheDeepFramesMatchWhenWhole()
    {
        Assert.Equal(Reason.Default, ReferenceEvaluator.Evaluate(k.Ruleset, DeepV6(A6, 2).Build()).Reason);
        var hit = ReferenceEvaluator.Evaluate(k.Ruleset, DeepV6("2001:db8::1", 2).Build());
        Assert.Equal("host128", k.Ruleset.Rules[hit.RuleIndex].Name);
        Assert.StartsWith("headers past the first buffer", ReferenceEvaluator.Parse(DeepV6(A6, 2).Build(), Page).Why);
    }

    /// <summary>
    /// The attached program, fw_dispatch, tail-calls the classifier with a multi-buffer frame (the kernel lets a
    /// program tail-call only one of the same kind, frags-aware or not), and with no classifier counts the whole
    /// frame as no-ruleset.
    /// </summary>
    [Fact]
    public void DispatcherPassesMultiBufferFramesToTheClassifier()
    {
        using var dispatcher = BpfObject.Open(Firewall.DispatcherObjectPath);
        dispatcher.SetProgramFrags(Firewall.DispatcherProgram, true);   // as Firewall.Attach loads it
        dispatcher.Load();
        var stats = dispatcher.Map("fw_stats");
        int prog = dispatcher.ProgramFd(Firewall.DispatcherProgram);
        byte[] jumbo = Padded(Frame.Udp(A, "192.0.2.53", 53, 40000), Jumbo).Build();

        Assert.Equal(XdpAction.Drop, BpfObject.TestRun(prog, jumbo, linear: Page).Verdict);
        Assert.Equal((1UL, (ulong)Jumbo), Read(stats, (uint)FwStatSlot.NoRuleset));

        var check = Fw.Control.RulesCheck.Check(RulesLoader.Parse(ClassifierFixtureTests.Rules, "fixture.yaml", "."));
        using var classifier = Classifier.Load(check.Image!, new ClassifierOptions { Stats = stats });
        dispatcher.Map("fw_progs").Update(0u, classifier.ProgramFd);
        uint rule = (uint)FwStatSlot.RuleBase + (uint)check.Ruleset!.Rules.Single(r => r.Name == "dns-sport").Index;
        Assert.Equal(XdpAction.Pass, BpfObject.TestRun(prog, jumbo, linear: Page).Verdict);
        Assert.Equal((1UL, (ulong)Jumbo), Read(stats, rule));
        Assert.Equal((1UL, (ulong)Jumbo), Read(stats, (uint)FwStatSlot.Pass));
        Assert.Equal((1UL, (ulong)Jumbo), Read(stats, (uint)FwStatSlot.NoRuleset));   // unchanged
    }

    private static (ulong Packets, ulong Bytes) Read(BpfMap stats, uint slot)
    {
        var all = stats.LookupPerCpu<uint, FwCounter>(slot);
        return ((ulong)all.Sum(c => (decimal)c.Packets), (ulong)all.Sum(c => (decimal)c.Bytes));
    }

    private static uint Slot(Ruleset rs, string expected) => expected switch
    {
        "default" => (uint)FwStatSlot.Default,
        "malformed" => (uint)FwStatSlot.Malformed,
        "non-ip" => (uint)FwStatSlot.NonIp,
        _ => (uint)FwStatSlot.RuleBase + (uint)rs.Rules.Single(r => r.Name == expected).Index,
    };

    private static uint ActionSlot(XdpAction verdict) => verdict switch
    {
        XdpAction.Pass => (uint)FwStatSlot.Pass,
        XdpAction.Drop => (uint)FwStatSlot.Drop,
        _ => (uint)FwStatSlot.Redirect,
    };

    private static string Name(Ruleset rs, FwReason reason, uint rule) => reason switch
    {
        FwReason.Rule => rs.Rules[(int)rule].Name,
        FwReason.Default => "default",
        FwReason.Malformed => "malformed",
        FwReason.NonIp => "non-ip",
        var r => r.ToString(),
    };
}
