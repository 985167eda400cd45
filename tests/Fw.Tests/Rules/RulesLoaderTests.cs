using Fw.Rules;
using Xunit;
using static Fw.Tests.Rules.RulesTestKit;

namespace Fw.Tests.Rules;

/// <summary>Valid rules files: what the model holds, defaults included.</summary>
public class RulesLoaderTests
{
    private static IpPrefix P(string s)
    {
        Assert.Equal(PrefixError.None, PrefixParser.TryParse(s, out var p));
        return p;
    }

    [Fact]
    public void DefaultsWhenKeysAreAbsent()
    {
        var rs = ParseOk("rules: []\n");
        Assert.Equal(RuleAction.Pass, rs.Default);
        Assert.Equal(RuleAction.Drop, rs.Malformed);
        Assert.Equal(RuleAction.Pass, rs.NonIp);
        Assert.Empty(rs.Interfaces);
        Assert.Empty(rs.Sets);
        Assert.Empty(rs.Rules);
        Assert.Equal(RulesFile, rs.File);
    }

    [Fact]
    public void EmptyCollectionsMayBeLeftEmpty()
    {
        var rs = ParseOk("default: drop\nsets:\nrules:\ninterfaces:\n");
        Assert.Equal(RuleAction.Drop, rs.Default);
        Assert.Empty(rs.Rules);
    }

    [Fact]
    public void TopLevelVerdicts()
    {
        var rs = ParseOk("default: drop\nmalformed: pass\nnon_ip: DROP\ninterfaces: [eth0, \"veth-a.10\"]\n");
        Assert.Equal(RuleAction.Drop, rs.Default);
        Assert.Equal(RuleAction.Pass, rs.Malformed);
        Assert.Equal(RuleAction.Drop, rs.NonIp);
        Assert.Equal(["eth0", "veth-a.10"], rs.Interfaces);
        Assert.Equal(new SourcePos(RulesFile, 1, 1), rs.PosOf("default"));
        Assert.Equal(new SourcePos(RulesFile, 4, 1), rs.PosOf("interfaces"));
        Assert.Equal(["bond0"], ParseOk("interfaces: bond0\n").Interfaces);
    }

    [Fact]
    public void RuleNamesDefaultToTheirPosition()
    {
        var rs = ParseOk("""
            rules:
              - action: pass
              - name: web
                action: drop
              - action: drop
              - name: rule-4
                action: pass
            """);
        Assert.Equal(["rule-1", "web", "rule-3", "rule-4"], rs.Rules.Select(r => r.Name));
        Assert.Equal([0, 1, 2, 3], rs.Rules.Select(r => r.Index));
        Assert.Equal(new SourcePos(RulesFile, 2, 5), rs.Rules[0].Pos);
        Assert.Equal(new SourcePos(RulesFile, 3, 5), rs.Rules[1].Pos);
        Assert.Equal(new SourcePos(RulesFile, 4, 5), rs.Rules[1].PosOf("action"));
    }

    [Fact]
    public void EveryFieldOfARule()
    {
        var rs = ParseOk("""
            sets:
              blocklist: [203.0.113.0/24, "2001:db8:bad::/48"]
            rules:
              - name: admin-ssh
                src: [198.51.100.0/24, "@blocklist", 2001:db8::/32]
                dst: 192.0.2.10
                proto: tcp
                sport: 1024-65535
                dport: [22, 2222, "8000-8080"]
                tcp_flags: "SYN, !ack"
                action: redirect
                to: eth1
              - proto: [ICMP, icmpv6, icmp]
                icmp_type: [8, 0, 8]
                action: drop
              - proto: [47, 0]
                action: drop
              - proto: [udp, 17, tcp]
                dport: 0
                action: pass
            """);
        var r = rs.Rules[0];
        Assert.Equal("admin-ssh", r.Name);
        Assert.Equal([P("198.51.100.0/24"), P("2001:db8::/32")], r.Src!.Prefixes);
        Assert.Same(rs.Sets["blocklist"], Assert.Single(r.Src.Sets));
        Assert.Equal(4, r.Src.PrefixCount);
        Assert.Equal([P("192.0.2.10/32")], r.Dst!.Prefixes);
        Assert.Empty(r.Dst.Sets);
        Assert.Equal([Ruleset.ProtoTcp], r.Proto);
        Assert.Equal([new PortRange(1024, 65535)], r.Sport);
        Assert.Equal([new PortRange(22, 22), new PortRange(2222, 2222), new PortRange(8000, 8080)], r.Dport);
        Assert.Equal(new TcpFlagsMatch((byte)(TcpFlagsMatch.Syn | TcpFlagsMatch.Ack), TcpFlagsMatch.Syn), r.TcpFlags);
        Assert.Null(r.IcmpType);
        Assert.Equal(RuleAction.Redirect, r.Action);
        Assert.Equal("eth1", r.To);

        var icmp = rs.Rules[1];
        Assert.Equal([(byte)1, (byte)58], icmp.Proto); // duplicates dropped, order kept
        Assert.Equal([(byte)47, (byte)0], rs.Rules[2].Proto);
        Assert.Equal([(byte)8, (byte)0], icmp.IcmpType); // duplicates dropped, order kept
        Assert.Null(icmp.Src);
        Assert.Null(icmp.Sport);
        Assert.Null(icmp.To);

        Assert.Equal([(byte)17, (byte)6], rs.Rules[3].Proto);
        Assert.Equal([new PortRange(0, 0)], rs.Rules[3].Dport);

        Assert.Equal(2, rs.Sets["blocklist"].Prefixes.Count);
        Assert.Null(rs.Sets["blocklist"].File);
        Assert.Equal(new SourcePos(RulesFile, 2, 3), rs.Sets["blocklist"].Pos);
        Assert.Equal(2 + 2 + 1, rs.PrefixCount);
    }

    [Fact]
    public void ScalarAndListFormsAreTheSame()
    {
        var a = ParseOk("rules:\n  - {src: 10.0.0.0/8, proto: udp, dport: 53, action: pass}\n").Rules[0];
        var b = ParseOk("rules:\n  - {src: [10.0.0.0/8], proto: [udp], dport: [\"53\"], action: pass}\n").Rules[0];
        Assert.Equal(a.Src!.Prefixes, b.Src!.Prefixes);
        Assert.Equal(a.Proto, b.Proto);
        Assert.Equal(a.Dport, b.Dport);
    }

    [Fact]
    public void AddressesAreStoredAsPrefixes()
    {
        var r = ParseOk("""
            rules:
              - src: [0.0.0.0/0, "::/0", 255.255.255.255, "::ffff:192.0.2.1", "fe80::/10", "2001:DB8:0:0:0:0:0:1"]
                action: pass
            """).Rules[0];
        Assert.Equal(
            ["0.0.0.0/0", "::/0", "255.255.255.255/32", "::ffff:192.0.2.1/128", "fe80::/10", "2001:db8::1/128"],
            r.Src!.Prefixes.Select(p => p.ToString()));
        Assert.Equal(IpFamily.V4, r.Src.Prefixes[2].Family);
        Assert.Equal(IpFamily.V6, r.Src.Prefixes[3].Family);
    }

    [Fact]
    public void SetsMayBeDefinedAfterTheRulesThatUseThem()
    {
        var rs = ParseOk("rules:\n  - {src: \"@late\", action: drop}\nsets:\n  late: [10.0.0.0/8]\n");
        Assert.Same(rs.Sets["late"], rs.Rules[0].Src!.Sets[0]);
    }

    [Fact]
    public void KeywordsAreCaseInsensitiveKeysAreNot()
    {
        var r = ParseOk("rules:\n  - {proto: TCP, tcp_flags: \"Syn,!ACK\", action: Drop}\n").Rules[0];
        Assert.Equal(RuleAction.Drop, r.Action);
        Assert.Equal([Ruleset.ProtoTcp], r.Proto);
        Assert.False(Parse("Rules: []\n").Ok);
    }

    [Fact]
    public void RulesMayBeFlowMappingsAndQuotedStrings()
    {
        var r = ParseOk("rules: [{name: 'a', src: '10.1.0.0/16', action: 'pass'}]").Rules[0];
        Assert.Equal("a", r.Name);
        Assert.Equal(P("10.1.0.0/16"), r.Src!.Prefixes[0]);
    }

    [Fact]
    public void CrlfAndBomAreFine()
    {
        using var dir = new TempDir();
        string path = dir.WriteBytes("rules.yaml",
            [0xEF, 0xBB, 0xBF, .. System.Text.Encoding.UTF8.GetBytes("default: drop\r\nrules:\r\n  - action: dorp\r\n")]);
        var r = RulesLoader.Load(path);
        AssertError(r, 3, 13, "unknown action 'dorp'", path);
    }

    [Fact]
    public void LoadReadsAFile()
    {
        using var dir = new TempDir();
        string path = dir.Write("rules.yaml", "default: drop\nrules:\n  - proto: icmpv6\n    action: pass\n  - state: established\n    action: pass\n");
        var r = RulesLoader.Load(path);
        Assert.True(r.Ok);
        Assert.Empty(r.Diagnostics);
        Assert.Equal(path, r.Ruleset!.File);
        Assert.Same(r.Ruleset, r.RulesetOrThrow());
    }

    [Fact]
    public void RulesetOrThrowCarriesEveryError()
    {
        var r = Parse("rules:\n  - action: dorp\n  - action: pass\n    to: x\n");
        var e = Assert.Throws<RulesException>(() => r.RulesetOrThrow());
        Assert.Equal(2, e.Diagnostics.Count);
    }

    internal static void WriteV4Lines(string path, int count)
    {
        using var w = new StreamWriter(path, false, new System.Text.UTF8Encoding(false), 1 << 20);
        for (int i = 0; i < count; i++)
        {
            uint a = 0x0B000000u + (uint)i; // 11.0.0.0 upward, all distinct
            w.Write(a >> 24);
            w.Write('.');
            w.Write((a >> 16) & 255);
            w.Write('.');
            w.Write((a >> 8) & 255);
            w.Write('.');
            w.Write(a & 255);
            w.Write('\n');
        }
    }
}
