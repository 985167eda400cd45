using Fw.Packets;
using Fw.Rules;
using Fw.Testing.Reference;
using static Fw.Tests.Rules.RulesTestKit;

namespace Fw.Tests.Testing;

/// <summary>
/// The oracle of issue 13, checked against the contract's own examples: replies to our connections are
/// established, a track rule's flow is established both ways, phases and timeouts, related ICMP errors, echo by
/// identifier, fragments. (The data plane will be proven against this oracle by the differential tests.)
/// </summary>
public class ReferenceFlowTableTests
{
    private const string Local = "192.0.2.10", Remote = "198.18.0.7", Other = "198.18.0.8";

    private static readonly Ruleset Policy = ParseOk(Fw.Testing.ConntrackPolicies.RepliesAndSshIn);

    private static Reason Verdict(ReferenceFlowTable t, Frame f, long now, out int rule)
    {
        var r = t.Evaluate(Policy, f.Build(), now);
        rule = r.RuleIndex;
        return r.Reason;
    }

    private static bool Passes(ReferenceFlowTable t, Frame f, long now) => t.Evaluate(Policy, f.Build(), now).Action == RuleAction.Pass;

    [Fact]
    public void RepliesToOurConnectionsAreEstablishedOthersAreNot()
    {
        var t = new ReferenceFlowTable(ConntrackSettings.Default);
        t.Egress(Frame.Tcp(Local, Remote, 40000, 443).Build(), 0);
        Assert.True(Passes(t, Frame.Tcp(Remote, Local, 443, 40000, TcpFlags.Syn | TcpFlags.Ack), 1));
        Assert.Equal(FlowPhase.TcpEstablished, t.Flows.Values.Single().Phase);
        Assert.False(Passes(t, Frame.Tcp(Remote, Local, 443, 40001, TcpFlags.Ack), 1));   // another port: new
        Assert.False(Passes(t, Frame.Tcp(Other, Local, 443, 40000, TcpFlags.Ack), 1));    // another host: new
        Assert.False(Passes(t, Frame.Tcp(Local, Remote, 40000, 443, TcpFlags.Ack), 1));   // our own direction inbound: new
    }

    [Fact]
    public void ATrackedFlowIsEstablishedBothWaysFromItsSecondPacket()
    {
        var t = new ReferenceFlowTable(ConntrackSettings.Default);
        var syn = Frame.Tcp(Remote, Local, 50000, 22);
        Assert.Equal(Reason.Rule, Verdict(t, syn, 0, out int rule));
        Assert.Equal(1, rule);   // ssh-in: the first packet is new
        Assert.Equal(FlowOrigin.Tracked, t.Flows.Values.Single().Origin);
        Assert.Equal(Reason.Rule, Verdict(t, Frame.Tcp(Remote, Local, 50000, 22, TcpFlags.Ack), 1, out rule));
        Assert.Equal(0, rule);   // replies: established
        t.Egress(Frame.Tcp(Local, Remote, 22, 50000, TcpFlags.Syn | TcpFlags.Ack).Build(), 1);   // our answer
        Assert.Equal(FlowPhase.TcpEstablished, t.Flows.Values.Single().Phase);
        Assert.Single(t.Flows);   // the answer refreshed the tracked flow, it made none of its own
        Assert.False(Passes(t, Frame.Tcp(Remote, Local, 50000, 23, TcpFlags.Ack), 2));   // not that flow
    }

    [Fact]
    public void PhasesHaveTheirTimeouts()
    {
        var s = ConntrackSettings.Default with { TcpSyn = 5, TcpEstablished = 100, TcpClosing = 3, Udp = 10, UdpReplied = 50 };
        var t = new ReferenceFlowTable(s);
        // UDP: the short timeout until a reply, the longer one after.
        t.Egress(Frame.Udp(Local, Remote, 5353, 53).Build(), 0);
        Assert.False(Passes(t, Frame.Udp(Remote, Local, 53, 5353), 10));   // 10 s after, never answered: gone
        t.Egress(Frame.Udp(Local, Remote, 5353, 53).Build(), 20);
        Assert.True(Passes(t, Frame.Udp(Remote, Local, 53, 5353), 29));
        Assert.True(Passes(t, Frame.Udp(Remote, Local, 53, 5353), 78));   // udp_replied: 50 s from the last packet
        Assert.False(Passes(t, Frame.Udp(Remote, Local, 53, 5353), 128));

        // TCP: SYN, established, closing.
        t.Egress(Frame.Tcp(Local, Remote, 40000, 80).Build(), 200);
        Assert.False(Passes(t, Frame.Tcp(Remote, Local, 80, 40000, TcpFlags.Syn | TcpFlags.Ack), 205));   // SYN timed out
        t.Egress(Frame.Tcp(Local, Remote, 40000, 80).Build(), 300);
        Assert.True(Passes(t, Frame.Tcp(Remote, Local, 80, 40000, TcpFlags.Syn | TcpFlags.Ack), 304));
        Assert.True(Passes(t, Frame.Tcp(Remote, Local, 80, 40000, TcpFlags.Ack), 400));
        Assert.True(Passes(t, Frame.Tcp(Remote, Local, 80, 40000, TcpFlags.Fin | TcpFlags.Ack), 401));
        Assert.Equal(FlowPhase.TcpClosing, t.Flows.Values.Single(f => f.LastSeen == 401).Phase);
        Assert.True(Passes(t, Frame.Tcp(Remote, Local, 80, 40000, TcpFlags.Ack), 403));
        Assert.False(Passes(t, Frame.Tcp(Remote, Local, 80, 40000, TcpFlags.Ack), 406));
    }

    [Fact]
    public void IcmpErrorsAboutOurFlowsAreRelated()
    {
        var t = new ReferenceFlowTable(ConntrackSettings.Default);
        var sent = Frame.Udp(Local, Remote, 5353, 53).Build();
        t.Egress(sent, 0);
        byte[] quoted = sent[14..(14 + 28)];   // the IP header and 8 bytes of UDP, as a router quotes them
        var unreachable = Frame.Icmp(Other, Local, 3, 3).WithPayload(quoted);
        Assert.Equal(Reason.Rule, Verdict(t, unreachable, 1, out int rule));
        Assert.Equal(0, rule);
        var st = t.StateOf(ReferenceEvaluator.Parse(unreachable.Build()), unreachable.Build(), 1, out _);
        Assert.Equal(ConnState.Related, st);
        var aboutOther = Frame.Icmp(Other, Local, 3, 3).WithPayload(Frame.Udp(Local, Remote, 5354, 53).Build()[14..(14 + 28)]);
        Assert.False(Passes(t, aboutOther, 1));
        Assert.False(Passes(t, Frame.Icmp(Other, Local, 5, 0).WithPayload(quoted), 1));   // a redirect is no error the contract names

        // IPv6: packet too big about our TCP flow (path MTU discovery behind default: drop).
        var sent6 = Frame.Tcp("2001:db8::10", "2001:db8:1::7", 40000, 443).Build();
        t.Egress(sent6, 2);
        var tooBig = Frame.Icmpv6("2001:db8:ff::1", "2001:db8::10", 2).WithPayload(sent6[14..(14 + 48)]);
        Assert.True(Passes(t, tooBig, 3));
    }

    [Fact]
    public void EchoIsKeyedByIdentifierAndOnlyRepliesComeBack()
    {
        var t = new ReferenceFlowTable(ConntrackSettings.Default);
        Frame Echo(string src, string dst, byte type, ushort id) => Frame.Icmp(src, dst, type).WithIcmp(h => h with { Rest = (uint)id << 16 | 1 });
        t.Egress(Echo(Local, Remote, 8, 7).Build(), 0);
        Assert.True(Passes(t, Echo(Remote, Local, 0, 7), 1));
        Assert.False(Passes(t, Echo(Remote, Local, 0, 8), 1));    // another identifier
        Assert.False(Passes(t, Echo(Remote, Local, 8, 7), 1));    // a request is never a reply
        Assert.False(Passes(t, Echo(Remote, Local, 0, 7), 1 + ConntrackSettings.Default.Icmp + 1));
    }

    [Fact]
    public void NonFirstFragmentsAreNew()
    {
        var t = new ReferenceFlowTable(ConntrackSettings.Default);
        t.Egress(Frame.Udp(Local, Remote, 5353, 53).Build(), 0);
        Assert.True(Passes(t, Frame.Udp(Remote, Local, 53, 5353).AsFragment(0, more: true), 1));
        Assert.False(Passes(t, Frame.Udp(Remote, Local, 53, 5353).AsFragment(1480), 1));
    }

    [Fact]
    public void WithoutATableEveryPacketIsNew()
    {
        var rs = ParseOk("rules:\n  - state: established\n    action: drop\n  - state: new\n    action: pass\n");
        var r = ReferenceEvaluator.Evaluate(rs, Frame.Tcp(Remote, Local, 1, 2).Build());
        Assert.Equal((RuleAction.Pass, 1), (r.Action, r.RuleIndex));
    }
}
