using Fw.Control;
using Fw.Rules;
using static Fw.Tests.Rules.RulesTestKit;

namespace Fw.Tests.Rules;

/// <summary>
/// Issue 13's contract in the rules file: `conntrack:` (max, timeouts), a rule's `state:` and `track:`, and the
/// errors at file:line:col; and what the compiler makes of them (the state field, track rules, the settings).
/// </summary>
public class ConntrackRulesTests
{
    private static string Y(params string[] lines) => string.Join("\n", lines) + "\n";

    [Fact]
    public void StateTrackAndSettingsAreRead()
    {
        var rs = ParseOk(Y(
            "conntrack:",
            "  max: 65536",
            "  timeouts: { tcp_established: 3600, udp: 15 }",
            "rules:",
            "  - name: replies",
            "    state: [established, related]",
            "    action: pass",
            "  - name: ssh-in",
            "    proto: tcp",
            "    dport: 22",
            "    track: true",
            "    action: pass",
            "  - name: fresh",
            "    state: new",
            "    action: drop"));
        Assert.Equal(ConnState.Established | ConnState.Related, rs.Rules[0].State);
        Assert.False(rs.Rules[0].Track);
        Assert.Null(rs.Rules[1].State);
        Assert.True(rs.Rules[1].Track);
        Assert.Equal(ConnState.New, rs.Rules[2].State);
        Assert.True(rs.UsesConntrack);
        Assert.Equal(65536, rs.Conntrack.Max);
        Assert.Equal(3600u, rs.Conntrack.TcpEstablished);
        Assert.Equal(15u, rs.Conntrack.Udp);
        Assert.Equal(ConntrackSettings.Default.TcpSyn, rs.Conntrack.TcpSyn);   // the rest keep their defaults
        Assert.Equal(ConntrackSettings.Default.Icmp, rs.Conntrack.Icmp);
    }

    [Fact]
    public void StateEntersTheShadowingAndPolicyWarnings()
    {
        // An earlier state rule covers only packets of its states: ssh-in is reachable behind it.
        var r = Parse(Y("default: drop", "rules:", "  - name: replies", "    state: [established, related]", "    action: pass",
            "  - name: ssh-in", "    proto: tcp", "    dport: 22", "    track: true", "    action: pass",
            "  - name: nd", "    proto: icmpv6", "    icmp_type: [135, 136]", "    action: pass"));
        Assert.True(r.Ok);
        Assert.DoesNotContain(r.Diagnostics, d => d.Message.Contains("can never match"));
        Assert.DoesNotContain(r.Diagnostics, d => d.Message.Contains("state established"));
        Assert.DoesNotContain(r.Diagnostics, d => d.Message.Contains("neighbour discovery"));
        // One that covers every state does shadow, and an ND rule limited to established lets no ND through.
        var shadow = Parse(Y("rules:", "  - name: all", "    state: [new, established, related]", "    action: drop", "  - name: web", "    proto: tcp", "    action: pass"));
        Assert.Contains(shadow.Diagnostics, d => d.Message.Contains("rule 'web' can never match"));
        // default drop without an established pass rule: replies to the host's own connections go.
        var noReplies = Parse(Y("default: drop", "rules:", "  - name: nd", "    proto: icmpv6", "    icmp_type: [135, 136]", "    action: pass"));
        AssertWarning(noReplies, 1, 1, "default drop with no pass rule for state established");
        // An ND rule limited to established lets no neighbour discovery through (it is new).
        var ndEstablished = Parse(Y("default: drop", "rules:", "  - name: nd", "    proto: icmpv6", "    icmp_type: [135, 136]", "    state: established", "    action: pass"));
        AssertWarning(ndEstablished, 1, 1, "neighbour discovery");
    }

    [Fact]
    public void WithoutStateOrTrackNoTableIsUsed()
    {
        var rs = ParseOk(Y("conntrack: { max: 2048 }", "rules:", "  - action: pass", "    track: false"));
        Assert.False(rs.UsesConntrack);
        Assert.Equal(ConntrackSettings.Default, ParseOk(Y("rules: []")).Conntrack);
    }

    public static TheoryData<string, int, int, string> Errors => new()
    {
        { Y("rules:", "  - state: estabished", "    action: pass"), 2, 12, "unknown state 'estabished'; expected new, established or related; did you mean 'established'?" },
        { Y("rules:", "  - state: [new, new]", "    action: pass"), 2, 18, "state 'new' is listed twice" },
        { Y("rules:", "  - state: []", "    action: pass"), 2, 12, "'state' is an empty list" },
        { Y("rules:", "  - track: yes", "    action: pass"), 2, 12, "bad track 'yes'; expected true or false" },
        { Y("rules:", "  - track: true", "    action: drop"), 2, 5, "'track' is only for action pass (it admits the flow), not drop" },
        { Y("conntrack: { max: 10 }", "rules: []"), 1, 19, "max 10 is out of range (1,024-16,777,216)" },
        { Y("conntrack: { max: many }", "rules: []"), 1, 19, "bad max 'many'" },
        { Y("conntrack: { timeouts: { tcp_syn: 0 } }", "rules: []"), 1, 35, "tcp_syn 0 is out of range (1-2,592,000)" },
        { Y("conntrack: { timeouts: { tcp_fin: 5 } }", "rules: []"), 1, 26, "unknown key 'tcp_fin' in conntrack timeouts" },
        { Y("conntrack: { size: 5 }", "rules: []"), 1, 14, "unknown key 'size' in conntrack" },
        { Y("conntrack: [1]", "rules: []"), 1, 12, "'conntrack': expected a mapping with max and timeouts" },
    };

    [Theory]
    [MemberData(nameof(Errors))]
    public void ErrorsStandWhereTheyAre(string yaml, int line, int column, string message) =>
        AssertError(Parse(yaml), line, column, message);

    [Fact]
    public void TheCompilerMakesAStateFieldTrackRulesAndKeepsTheSettings()
    {
        var check = RulesCheck.Check(Parse(Y("conntrack: { max: 4096 }", "rules:", "  - name: a", "    track: true", "    proto: tcp",
            "    action: pass", "  - state: [established, related]", "    action: pass")));
        Assert.True(check.Ok, string.Join("\n", check.Diagnostics));
        var image = check.Image!;
        Assert.True(image.Fields.HasFlag(Fw.Compiler.FieldMask.State));
        Assert.Equal([true, false], image.Rules.Select(r => r.Track));
        Assert.Equal(4096, image.Conntrack!.Max);
        // State classes: new (0) takes rule a only, established (1) and related (2) both rules.
        Assert.NotEqual(image.State![0], image.State[1]);
        Assert.Equal(image.State[1], image.State[2]);

        var stateless = RulesCheck.Check(Parse(Y("rules:", "  - action: pass")));
        Assert.Null(stateless.Image!.Conntrack);   // no table, no egress program, nothing per packet
    }
}
