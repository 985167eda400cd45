using Fw.Rules;
using Xunit;
using static Fw.Tests.Rules.RulesTestKit;

namespace Fw.Tests.Rules;

/// <summary>Warnings: rules that can never match, and default drop without ICMPv6 neighbour discovery.</summary>
public class RulesAnalyzerTests
{
    /// <summary>Two rules as flow mappings: the first on line 2, the second on line 3 (its '{' at column 5).</summary>
    private static string Two(string first, string second) =>
        $"rules:\n  - {{{With(first, "action: drop")}}}\n  - {{{With(second, "action: pass")}}}\n";

    private static string With(string fields, string action) => fields.Length == 0 ? action : fields + ", " + action;

    public static TheoryData<string, string, string> Shadowed => new()
    {
        // description, earlier rule, later rule (the fields of a flow mapping; the action is appended)
        { "wider prefix", "src: 10.0.0.0/8", "src: 10.1.0.0/16" },
        { "same prefix", "src: 10.0.0.0/8", "src: 10.0.0.0/8" },
        { "absent field covers any", "proto: tcp", "src: 10.0.0.0/8, proto: tcp, dport: 22" },
        { "empty earlier rule covers all", "", "src: 10.0.0.0/8" },
        { "union of prefixes", "src: [10.0.0.0/25, 10.0.0.128/25]", "src: 10.0.0.0/24" },
        { "list covered element by element", "src: [10.0.0.0/8, \"2001:db8::/32\"]", "src: [\"2001:db8:1::/48\", 10.9.0.0/16]" },
        { "0/0 and ::/0 cover an absent src", "src: [0.0.0.0/0, \"::/0\"]", "proto: udp" },
        { "proto superset", "proto: [tcp, udp]", "proto: tcp" },
        { "port range covers ports", "proto: tcp, dport: 1-1000", "proto: tcp, dport: [22, 80-90, 1000]" },
        { "adjacent port ranges", "proto: udp, sport: [0-99, 100-200]", "proto: udp, sport: 50-150" },
        { "fewer tcp flags", "proto: tcp, tcp_flags: syn", "proto: tcp, tcp_flags: \"syn,!ack\"" },
        { "icmp types superset", "proto: icmp, icmp_type: [0, 8]", "proto: icmp, icmp_type: 8" },
        { "every field", "src: 10.0.0.0/8, dst: 192.0.2.0/24, proto: tcp, sport: 1024-65535, dport: [22, 443], tcp_flags: syn",
            "src: 10.1.1.1, dst: 192.0.2.1, proto: tcp, sport: 2000, dport: 443, tcp_flags: \"syn,!ack,!rst\"" },
        { "same set", "src: \"@s\"", "src: \"@s\", proto: tcp" },
        { "small sets compare by content", "src: \"@u\"", "src: \"@s\"" },
    };

    public static TheoryData<string, string, string> NotShadowed => new()
    {
        { "narrower prefix first", "src: 10.1.0.0/16", "src: 10.0.0.0/8" },
        { "other family", "src: 10.0.0.0/8", "src: \"2001:db8::/32\"" },
        { "part of a list uncovered", "src: 10.0.0.0/8", "src: [10.1.0.0/16, 11.0.0.0/8]" },
        { "absent field not covered by a present one", "proto: tcp, dport: 22", "proto: tcp" },
        { "full port range does not cover an absent port (non-first fragments)", "proto: tcp, dport: 0-65535", "proto: tcp" },
        { "proto subset", "proto: tcp", "proto: [tcp, udp]" },
        { "port gap", "proto: udp, dport: [1-10, 12-20]", "proto: udp, dport: 5-15" },
        { "more tcp flags", "proto: tcp, tcp_flags: \"syn,!ack\"", "proto: tcp, tcp_flags: syn" },
        { "tcp flag values disagree", "proto: tcp, tcp_flags: syn", "proto: tcp, tcp_flags: \"!syn\"" },
        { "icmp types subset", "proto: icmp, icmp_type: 8", "proto: icmp, icmp_type: [0, 8]" },
        { "v4 /0 alone does not cover an absent src", "src: 0.0.0.0/0", "proto: udp" },
        { "other set", "src: \"@s\"", "src: \"@t\"" },
    };

    private const string Sets = "sets:\n  s: [10.0.0.0/8]\n  t: [11.0.0.0/8]\n  u: [10.0.0.0/9, 10.128.0.0/9]\n";

    [Theory]
    [MemberData(nameof(Shadowed))]
    public void WarnsWhenAnEarlierRuleCoversALaterOne(string description, string earlier, string later)
    {
        _ = description;
        var r = Parse(Two(earlier, later) + Sets);
        Assert.True(r.Ok, string.Join("\n", r.Errors));
        AssertWarning(r, 3, 5, "rule 'rule-2' can never match: rule 'rule-1' (rules.yaml:2) matches everything it does");
        Assert.Single(r.Warnings);
    }

    [Theory]
    [MemberData(nameof(NotShadowed))]
    public void NoWarningWhenTheLaterRuleCanMatch(string description, string earlier, string later)
    {
        _ = description;
        var r = Parse(Two(earlier, later) + Sets);
        Assert.True(r.Ok, string.Join("\n", r.Errors));
        Assert.Empty(r.Warnings);
    }

    [Fact]
    public void NamesTheFirstCoveringRule()
    {
        var r = Parse("""
            rules:
              - {name: narrow, src: 10.1.0.0/16, action: pass}
              - {name: wide, src: 10.0.0.0/8, action: drop}
              - {name: wider, proto: tcp, action: drop}
              - {name: dead, src: 10.1.2.0/24, proto: tcp, action: pass}
            """);
        var w = Assert.Single(r.Warnings);
        Assert.Equal("rule 'dead' can never match: rule 'narrow' (rules.yaml:2) matches everything it does", w.Message);
        Assert.Equal(new SourcePos(RulesFile, 5, 5), w.Pos);
        Assert.Equal(1, w.Length);
        Assert.True(r.Ok); // warnings do not fail a load
    }

    [Fact]
    public void HugeSetsAreComparedByIdentity()
    {
        using var dir = new TempDir();
        RulesLoaderTests.WriteV4Lines(Path.Combine(dir.Path, "big.txt"), 5000);
        var r = Parse("""
            sets:
              big: {file: big.txt}
              big2: {file: big.txt}
            rules:
              - {src: "@big", action: drop}
              - {src: "@big", proto: udp, action: pass}
              - {src: "@big2", proto: udp, action: pass}
            """, dir.Path);
        var w = Assert.Single(r.Warnings);
        Assert.Equal(6, w.Pos.Line);
    }

    [Fact]
    public void EmptySetsMatchNothing()
    {
        var r = Parse("""
            sets:
              none: []
              also_none: []
            rules:
              - {src: "@none", action: drop}
              - {dst: ["@none", "@also_none"], action: drop}
              - {src: "@none", dst: 10.0.0.0/8, action: drop}
            """);
        Assert.True(r.Ok);
        AssertWarning(r, 5, 5, "rule 'rule-1' can never match: src names only empty sets");
        AssertWarning(r, 6, 5, "rule 'rule-2' can never match: dst names only empty sets");
        AssertWarning(r, 7, 5, "rule 'rule-3' can never match: src names only empty sets");
        Assert.Equal(3, r.Warnings.Count());
    }

    [Fact]
    public void SrcAndDstOfDifferentFamilies()
    {
        var r = Parse("""
            rules:
              - {src: 10.0.0.0/8, dst: "2001:db8::/32", action: drop}
              - {src: "::/0", dst: 0.0.0.0/0, action: drop}
              - {src: [10.0.0.0/8, "::/0"], dst: "2001:db8::/32", action: drop}
            """);
        AssertWarning(r, 2, 5, "rule 'rule-1' can never match: src is only IPv4 and dst only IPv6");
        AssertWarning(r, 3, 5, "rule 'rule-2' can never match: src is only IPv6 and dst only IPv4");
        Assert.Equal(2, r.Warnings.Count());
    }

    [Fact]
    public void ARuleThatNeverMatchesHidesNothing()
    {
        var r = Parse("""
            sets:
              none: []
            rules:
              - {src: "@none", action: drop}
              - {src: 10.0.0.0/8, action: pass}
            """);
        Assert.Single(r.Warnings);
    }

    public static TheoryData<string, string, bool> NeighbourDiscovery => new()
    {
        // description, rules (after "rules:\n"), warned
        { "no rules", "  []\n", true },
        { "pass all ICMPv6", "  - {proto: icmpv6, action: pass}\n", false },
        { "pass ND types", "  - {proto: icmpv6, icmp_type: [135, 136], action: pass}\n", false },
        { "pass ND types in two rules", "  - {proto: icmpv6, icmp_type: 136, action: pass}\n  - {proto: icmpv6, icmp_type: 135, action: pass}\n", false },
        { "pass everything", "  - {action: pass}\n", false },
        { "pass an IPv6 source", "  - {src: \"fe80::/10\", action: pass}\n", false },
        { "pass ICMP and ICMPv6", "  - {proto: [icmp, icmpv6], icmp_type: [135, 136, 8], action: pass}\n", false },
        { "only solicitation", "  - {proto: icmpv6, icmp_type: 135, action: pass}\n", true },
        { "other ICMPv6 types", "  - {proto: icmpv6, icmp_type: [128, 129], action: pass}\n", true },
        { "IPv4 source only", "  - {src: 10.0.0.0/8, proto: icmpv6, action: pass}\n", true },
        { "IPv6 destination but IPv4 source", "  - {src: 10.0.0.0/8, dst: \"::/0\", action: pass}\n", true },
        { "ICMP not ICMPv6", "  - {proto: icmp, action: pass}\n", true },
        { "TCP only", "  - {proto: tcp, dport: 22, action: pass}\n", true },
        { "drop rule", "  - {proto: icmpv6, action: drop}\n", true },
        { "covered by an earlier drop", "  - {proto: icmpv6, action: drop}\n  - {proto: icmpv6, icmp_type: [135, 136], action: pass}\n", true },
        { "earlier drop covers part only", "  - {src: \"2001:db8::/32\", proto: icmpv6, action: drop}\n  - {proto: icmpv6, icmp_type: [135, 136], action: pass}\n", false },
        { "pass from an empty set", "  - {src: \"@none\", proto: icmpv6, action: pass}\n", true },
    };

    [Theory]
    [MemberData(nameof(NeighbourDiscovery))]
    public void DefaultDropWithoutNeighbourDiscovery(string description, string rules, bool warned)
    {
        _ = description;
        var r = Parse("sets:\n  none: []\ndefault: drop\nrules:\n" + rules);
        Assert.True(r.Ok, string.Join("\n", r.Errors));
        var nd = r.Warnings.Where(w => w.Message.Contains("neighbour discovery")).ToList();
        if (!warned)
        {
            Assert.Empty(nd);
            return;
        }
        var w = Assert.Single(nd);
        Assert.StartsWith("default drop blocks ICMPv6 neighbour discovery; IPv6 will break", w.Message);
        Assert.Equal(new SourcePos(RulesFile, 3, 1), w.Pos);
        Assert.Equal("default".Length, w.Length);
    }

    [Fact]
    public void DefaultPassNeedsNoNeighbourDiscoveryRule()
    {
        Assert.Empty(Parse("default: pass\nrules:\n  - {proto: icmpv6, action: drop}\n").Warnings);
    }

    [Fact]
    public void AnalyzerRunsOnAnyRuleset()
    {
        var rs = ParseOk("rules:\n  - {proto: tcp, action: drop}\n  - {proto: tcp, dport: 22, action: pass}\n");
        var w = Assert.Single(RulesAnalyzer.Warnings(rs));
        Assert.Equal(Severity.Warning, w.Severity);
    }
}
