using Fw.Compiler;
using Fw.Kernel;
using Fw.Rules;
using Fw.Packets;
using Fw.Testing.Reference;
using Fw.Bpf;
using Fw.Control;

namespace Fw.Tests.Kernel;

/// <summary>
/// Katran-style fixtures: each row is {description, frame, expected verdict, expected rule or reason},
/// run through the loaded classifier with BPF_PROG_TEST_RUN. Every row also checks the counters (the
/// rule's or reason's slot and the action's slot grow by one packet and the frame's bytes) and that
/// the reference evaluator agrees. Every sentence of the contract's semantics has rows here.
/// </summary>
public sealed class ClassifierFixtureTests : IClassFixture<ClassifierFixtureTests.Loaded>
{
    public const string Rules = """
        default: pass
        malformed: drop
        non_ip: drop
        sets:
          bad4: [198.19.66.0/24, 198.19.67.7]
          bad6: ["2001:db8:bad::/48"]
          empty: []
        rules:
          - name: empty-set
            src: "@empty"
            action: drop
          - name: blocklist
            src: ["@bad4", "@bad6"]
            action: drop
          - name: nested-inner
            src: 198.18.5.128/25
            proto: tcp
            dport: 80
            action: pass
          - name: nested-outer
            src: 198.18.5.0/24
            proto: tcp
            dport: 80
            action: drop
          - name: port-range
            proto: tcp
            dport: 1000-2000
            action: drop
          - name: port-edges
            proto: [tcp, udp]
            dport: [0, 65535]
            action: drop
          - name: dns-sport
            proto: udp
            sport: [53, 5353]
            dst: 192.0.2.53
            action: pass
          - name: syn-only
            proto: tcp
            dport: 8080
            tcp_flags: "syn,!ack"
            action: drop
          - name: icmp-echo
            proto: icmp
            icmp_type: 8
            action: drop
          - name: icmpv6-echo
            proto: icmpv6
            icmp_type: [128]
            action: drop
          - name: host128
            src: "2001:db8::1"
            proto: udp
            action: drop
          - name: host32
            dst: 192.0.2.99
            action: drop
          - name: gre
            proto: 47
            action: drop
          - name: frag-proto-only
            dst: [192.0.2.50, "2001:db8:50::1"]
            proto: udp
            action: drop
          - name: frag-needs-port
            dst: [192.0.2.51, "2001:db8:51::1"]
            proto: udp
            dport: 9
            action: drop
          - name: to-lo
            dst: 192.0.2.77
            action: redirect
            to: lo
          - name: v4-only-src
            src: 198.18.9.0/24
            action: drop
          - name: v6-slash0-sctp
            src: "::/0"
            proto: 132
            action: drop
          - name: v4-slash0-udplite
            dst: 0.0.0.0/0
            proto: 136
            action: drop
          - name: mixed-family
            src: [198.18.20.0/24, "2001:db8:20::/64"]
            proto: tcp
            dport: 443
            action: drop
        """;

    private const string A = "198.18.0.1";      // an unremarkable IPv4 source
    private const string B = "192.0.2.1";       // an unremarkable IPv4 destination
    private const string A6 = "2001:db8:aa::1";
    private const string B6 = "2001:db8:bb::2";

    public sealed class Loaded : IDisposable
    {
        public Loaded()
        {
            var check = RulesCheck.Check(RulesLoader.Parse(Rules, "fixture.yaml", "."));
            Assert.True(check.Ok, string.Join("\n", check.Diagnostics));
            Ruleset = check.Ruleset!;
            Classifier = Classifier.Load(check.Image!, new ClassifierOptions { Trace = true });
        }

        public Ruleset Ruleset { get; }
        public Classifier Classifier { get; }

        public void Dispose() => Classifier.Dispose();
    }

    private readonly Loaded _k;

    public ClassifierFixtureTests(Loaded k) => _k = k;

    /// <summary>expected: a rule name, or "default", "malformed", "non-ip".</summary>
    public static TheoryData<string, Frame, XdpAction, string> Rows => new()
    {
        // Absent fields match anything; the default applies when nothing matches.
        { "plain tcp, no rule", Frame.Tcp(A, B, 40000, 22), XdpAction.Pass, "default" },
        { "plain udp v6, no rule", Frame.Udp(A6, B6, 40000, 22), XdpAction.Pass, "default" },
        // Sets, nested prefixes, /32 and /128 hosts.
        { "empty set matches nothing", Frame.Tcp("198.19.66.1", B, 1, 2), XdpAction.Drop, "blocklist" },
        { "set prefix first address", Frame.Udp("198.19.66.0", B, 1, 2), XdpAction.Drop, "blocklist" },
        { "set prefix last address", Frame.Udp("198.19.66.255", B, 1, 2), XdpAction.Drop, "blocklist" },
        { "just past set prefix", Frame.Udp("198.19.67.0", B, 1, 2), XdpAction.Pass, "default" },
        { "set host address", Frame.Udp("198.19.67.7", B, 1, 2), XdpAction.Drop, "blocklist" },
        { "set host neighbour", Frame.Udp("198.19.67.8", B, 1, 2), XdpAction.Pass, "default" },
        { "v6 set prefix", Frame.Udp("2001:db8:bad:ffff::1", B6, 1, 2), XdpAction.Drop, "blocklist" },
        { "v6 just past set prefix", Frame.Udp("2001:db8:bae::", B6, 1, 2), XdpAction.Pass, "default" },
        { "nested inner /25 wins first", Frame.Tcp("198.18.5.200", B, 1, 80), XdpAction.Pass, "nested-inner" },
        { "nested inner /25 start", Frame.Tcp("198.18.5.128", B, 1, 80), XdpAction.Pass, "nested-inner" },
        { "nested outer /24 below inner", Frame.Tcp("198.18.5.127", B, 1, 80), XdpAction.Drop, "nested-outer" },
        { "nested, other port", Frame.Tcp("198.18.5.200", B, 1, 81), XdpAction.Pass, "default" },
        { "host /32 dst", Frame.Tcp(A, "192.0.2.99", 1, 2), XdpAction.Drop, "host32" },
        { "host /32 neighbour", Frame.Tcp(A, "192.0.2.98", 1, 2), XdpAction.Pass, "default" },
        { "host /128 src udp", Frame.Udp("2001:db8::1", B6, 1, 2), XdpAction.Drop, "host128" },
        { "host /128 neighbour", Frame.Udp("2001:db8::2", B6, 1, 2), XdpAction.Pass, "default" },
        { "host /128 tcp: wrong proto", Frame.Tcp("2001:db8::1", B6, 1, 2), XdpAction.Pass, "default" },
        // /0 matches its own family only.
        { "::/0 matches v6 sctp", Frame.Ip(A6, B6, 132), XdpAction.Drop, "v6-slash0-sctp" },
        { "::/0 does not match v4 sctp", Frame.Ip(A, B, 132), XdpAction.Pass, "default" },
        { "0.0.0.0/0 matches v4 udplite", Frame.Ip(A, B, 136), XdpAction.Drop, "v4-slash0-udplite" },
        { "0.0.0.0/0 does not match v6", Frame.Ip(A6, B6, 136), XdpAction.Pass, "default" },
        { "v4-only src never matches v6", Frame.Tcp(A6, B6, 1, 2), XdpAction.Pass, "default" },
        { "v4-only src matches v4", Frame.Tcp("198.18.9.9", B, 1, 2), XdpAction.Drop, "v4-only-src" },
        { "mixed family list, v4", Frame.Tcp("198.18.20.5", B, 1, 443), XdpAction.Drop, "mixed-family" },
        { "mixed family list, v6", Frame.Tcp("2001:db8:20::5", B6, 1, 443), XdpAction.Drop, "mixed-family" },
        { "mixed family list, v6 outside", Frame.Tcp("2001:db8:21::5", B6, 1, 443), XdpAction.Pass, "default" },
        // Port ranges: endpoints, one past, 0 and 65535.
        { "range low end", Frame.Tcp(A, B, 1, 1000), XdpAction.Drop, "port-range" },
        { "range high end", Frame.Tcp(A, B, 1, 2000), XdpAction.Drop, "port-range" },
        { "below range", Frame.Tcp(A, B, 1, 999), XdpAction.Pass, "default" },
        { "above range", Frame.Tcp(A, B, 1, 2001), XdpAction.Pass, "default" },
        { "range is tcp only", Frame.Udp(A, B, 1, 1500), XdpAction.Pass, "default" },
        { "port 0", Frame.Udp(A, B, 1, 0), XdpAction.Drop, "port-edges" },
        { "port 65535", Frame.Tcp(A, B, 1, 65535), XdpAction.Drop, "port-edges" },
        { "sport list", Frame.Udp(A, "192.0.2.53", 5353, 40000), XdpAction.Pass, "dns-sport" },
        { "sport list, other", Frame.Udp(A, "192.0.2.53", 5354, 40000), XdpAction.Pass, "default" },
        // TCP flags: listed set, ! clear, others ignored.
        { "syn", Frame.Tcp(A, B, 1, 8080, TcpFlags.Syn), XdpAction.Drop, "syn-only" },
        { "syn+fin+psh: others ignored", Frame.Tcp(A, B, 1, 8080, TcpFlags.Syn | TcpFlags.Fin | TcpFlags.Psh), XdpAction.Drop, "syn-only" },
        { "syn+ack: ack must be clear", Frame.Tcp(A, B, 1, 8080, TcpFlags.Syn | TcpFlags.Ack), XdpAction.Pass, "default" },
        { "ack only", Frame.Tcp(A, B, 1, 8080, TcpFlags.Ack), XdpAction.Pass, "default" },
        // ICMP type in v4, ICMPv6 type in v6, and the oddities.
        { "icmp echo", Frame.Icmp(A, B, 8), XdpAction.Drop, "icmp-echo" },
        { "icmp echo reply", Frame.Icmp(A, B, 0), XdpAction.Pass, "default" },
        { "icmpv6 echo", Frame.Icmpv6(A6, B6, 128), XdpAction.Drop, "icmpv6-echo" },
        { "icmpv6 type 8 is not icmp echo", Frame.Icmpv6(A6, B6, 8), XdpAction.Pass, "default" },
        { "icmp (proto 1) in v6: no type read", Frame.Icmp(A6, B6, 8), XdpAction.Pass, "default" },
        { "icmpv6 (58) in v4: no type read", Frame.Icmpv6(A, B, 128), XdpAction.Pass, "default" },
        { "proto number", Frame.Ip(A, B, 47), XdpAction.Drop, "gre" },
        { "proto number v6", Frame.Ip(A6, B6, 47), XdpAction.Drop, "gre" },
        // VLAN and QinQ.
        { "one vlan tag", Frame.Tcp(A, B, 1, 1500).WithVlan(100), XdpAction.Drop, "port-range" },
        { "qinq", Frame.Tcp(A, B, 1, 1500).WithQinQ(10, 20), XdpAction.Drop, "port-range" },
        { "two 8100 tags", Frame.Tcp(A, B, 1, 1500).WithVlan(10).WithVlan(20), XdpAction.Drop, "port-range" },
        { "third tag is malformed", Frame.Tcp(A, B, 1, 1500).WithQinQ(10, 20).WithVlan(30), XdpAction.Drop, "malformed" },
        { "vlan, v6", Frame.Icmpv6(A6, B6, 128).WithVlan(7), XdpAction.Drop, "icmpv6-echo" },
        { "vlan, non-ip inside", Frame.Arp(A, B).WithVlan(5), XdpAction.Drop, "non-ip" },
        // IPv4 options and header validity.
        { "ipv4 options", Frame.Tcp(A, B, 1, 1500).WithIpOptions([1, 1, 1, 1, 1, 1, 1, 0]), XdpAction.Drop, "port-range" },
        { "ihl 4 is malformed", Frame.Tcp(A, B, 1, 1500).WithIpv4(h => h with { Ihl = 4 }), XdpAction.Drop, "malformed" },
        { "version 6 in v4 header", Frame.Tcp(A, B, 1, 1500).WithIpv4(h => h with { Version = 6 }), XdpAction.Drop, "malformed" },
        { "ihl past the frame", Frame.Udp(A, B, 1, 2).WithIpv4(h => h with { Ihl = 15 }).Truncated(14 + 40), XdpAction.Drop, "malformed" },
        // IPv6 header validity: the version nibble must be 6, tagged or not (the kernel's IPv6 input drops any other).
        // Each frame would pass by default if it were read as IPv6.
        { "v6 version 4 is malformed", Frame.Udp(A6, B6, 40000, 22).WithIpv6(h => h with { Version = 4 }), XdpAction.Drop, "malformed" },
        { "v6 version 0 is malformed", Frame.Tcp(A6, B6, 40000, 22).WithIpv6(h => h with { Version = 0 }), XdpAction.Drop, "malformed" },
        { "v6 version 15 is malformed", Frame.Icmpv6(A6, B6, 129).WithIpv6(h => h with { Version = 15 }), XdpAction.Drop, "malformed" },
        { "v6 version 4 under a vlan tag", Frame.Udp(A6, B6, 40000, 22).WithIpv6(h => h with { Version = 4 }).WithVlan(100), XdpAction.Drop, "malformed" },
        { "v6 version 5 under qinq", Frame.Udp(A6, B6, 40000, 22).WithIpv6(h => h with { Version = 5 }).WithQinQ(10, 20), XdpAction.Drop, "malformed" },
        { "ipv4 packet under the v6 ethertype", Frame.Udp(A, B, 40000, 22).WithPayload(40).WithEtherType(EtherTypes.Ipv6), XdpAction.Drop, "malformed" },
        { "ipv4 packet under the v6 ethertype, vlan", Frame.Udp(A, B, 40000, 22).WithPayload(40).WithEtherType(EtherTypes.Ipv6).WithVlan(100), XdpAction.Drop, "malformed" },
        { "v6 version 6 under a vlan tag", Frame.Udp(A6, B6, 40000, 22).WithVlan(100), XdpAction.Pass, "default" },
        // IPv6 extension chains.
        { "v6 hop-by-hop", Frame.Icmpv6(A6, B6, 128).WithExtensions(Ipv6Ext.HopByHop()), XdpAction.Drop, "icmpv6-echo" },
        { "v6 four kinds", Frame.Udp("2001:db8::1", B6, 1, 2).WithExtensions(Ipv6Ext.HopByHop(), Ipv6Ext.Routing(), Ipv6Ext.DestOptions(16), Ipv6Ext.Ah()), XdpAction.Drop, "host128" },
        { "v6 eight headers", Frame.Udp("2001:db8::1", B6, 1, 2).WithExtensions(Enumerable.Repeat(Ipv6Ext.DestOptions(), 8).ToArray()), XdpAction.Drop, "host128" },
        { "v6 nine headers malformed", Frame.Udp("2001:db8::1", B6, 1, 2).WithExtensions(Enumerable.Repeat(Ipv6Ext.DestOptions(), 9).ToArray()), XdpAction.Drop, "malformed" },
        { "v6 ext header truncated", Frame.Udp(A6, B6, 1, 2).WithExtensions(Ipv6Ext.DestOptions(24)).Truncated(14 + 40 + 16), XdpAction.Drop, "malformed" },
        // Fragments: first fragments match normally; non-first ones have no L4 header.
        { "v4 first fragment", Frame.Udp(A, "192.0.2.51", 1, 9).AsFragment(0, more: true), XdpAction.Drop, "frag-needs-port" },
        { "v4 non-first fragment, proto-only rule", Frame.Udp(A, "192.0.2.50", 1, 9).AsFragment(185), XdpAction.Drop, "frag-proto-only" },
        { "v4 non-first fragment, port rule skipped", Frame.Udp(A, "192.0.2.51", 1, 9).AsFragment(185), XdpAction.Pass, "default" },
        { "v4 non-first fragment, short payload not malformed", Frame.Ip(A, "192.0.2.51", 17, [1, 2, 3]).AsFragment(8), XdpAction.Pass, "default" },
        { "v6 first fragment", Frame.Udp(A6, "2001:db8:51::1", 1, 9).AsFragment(0, more: true), XdpAction.Drop, "frag-needs-port" },
        { "v6 non-first fragment, proto-only rule", Frame.Udp(A6, "2001:db8:50::1", 1, 9).AsFragment(100), XdpAction.Drop, "frag-proto-only" },
        { "v6 non-first fragment, port rule skipped", Frame.Udp(A6, "2001:db8:51::1", 1, 9).AsFragment(100), XdpAction.Pass, "default" },
        { "v4 non-first fragment icmp", Frame.Icmp(A, B, 8).AsFragment(10), XdpAction.Pass, "default" },
        // Truncation at each layer.
        { "ethernet only", Frame.Tcp(A, B, 1, 2).Truncated(14), XdpAction.Drop, "malformed" },
        { "short vlan tag", Frame.Tcp(A, B, 1, 2).WithVlan(3).Truncated(16), XdpAction.Drop, "malformed" },
        { "short ipv4 header", Frame.Tcp(A, B, 1, 2).Truncated(14 + 19), XdpAction.Drop, "malformed" },
        { "short ipv6 header", Frame.Tcp(A6, B6, 1, 2).Truncated(14 + 39), XdpAction.Drop, "malformed" },
        { "tcp 19 bytes", Frame.Tcp(A, B, 1, 2).Truncated(14 + 20 + 19), XdpAction.Drop, "malformed" },
        { "tcp 20 bytes", Frame.Tcp(A, B, 1, 2).Truncated(14 + 20 + 20), XdpAction.Pass, "default" },
        { "udp 7 bytes", Frame.Udp(A, B, 1, 2).Truncated(14 + 20 + 7), XdpAction.Drop, "malformed" },
        { "icmp 7 bytes", Frame.Icmp(A, B, 8).Truncated(14 + 20 + 7), XdpAction.Drop, "malformed" },
        { "icmpv6 7 bytes", Frame.Icmpv6(A6, B6, 128).Truncated(14 + 40 + 7), XdpAction.Drop, "malformed" },
        { "icmpv6 8 bytes", Frame.Icmpv6(A6, B6, 128).Truncated(14 + 40 + 8), XdpAction.Drop, "icmpv6-echo" },
        { "other proto needs no l4 bytes", Frame.Ip(A, B, 47), XdpAction.Drop, "gre" },
        // Non-IP.
        { "arp", Frame.Arp(A, B), XdpAction.Drop, "non-ip" },
        { "lldp", Frame.Raw(EtherTypes.Lldp, new byte[46]), XdpAction.Drop, "non-ip" },
        // Redirect.
        { "redirect", Frame.Tcp(A, "192.0.2.77", 1, 2), XdpAction.Redirect, "to-lo" },
    };

    [Theory]
    [MemberData(nameof(Rows))]
    public void Verdict(string description, Frame frame, XdpAction verdict, string expected)
    {
        byte[] bytes = frame.Build();
        var c = _k.Classifier;
        var rs = _k.Ruleset;
        uint slot = expected switch
        {
            "default" => (uint)FwStatSlot.Default,
            "malformed" => (uint)FwStatSlot.Malformed,
            "non-ip" => (uint)FwStatSlot.NonIp,
            _ => (uint)FwStatSlot.RuleBase + (uint)rs.Rules.Single(r => r.Name == expected).Index,
        };
        uint actionSlot = verdict switch
        {
            XdpAction.Pass => (uint)FwStatSlot.Pass,
            XdpAction.Drop => (uint)FwStatSlot.Drop,
            _ => (uint)FwStatSlot.Redirect,
        };
        lock (c)
        {
            var before = c.ReadCounter(slot);
            var beforeAction = c.ReadCounter(actionSlot);
            var run = c.TestRun(bytes);
            var trace = c.ReadTrace();
            var after = c.ReadCounter(slot);
            var afterAction = c.ReadCounter(actionSlot);

            Assert.True(verdict == run.Verdict, $"{description}: verdict {run.Verdict}, expected {verdict}");
            string got = (FwReason)trace.Reason switch
            {
                FwReason.Rule => rs.Rules[(int)trace.Rule].Name,
                FwReason.Default => "default",
                FwReason.Malformed => "malformed",
                FwReason.NonIp => "non-ip",
                var r => r.ToString(),
            };
            Assert.True(expected == got, $"{description}: matched {got}, expected {expected}");
            Assert.Equal(1UL, after.Packets - before.Packets);
            Assert.Equal((ulong)bytes.Length, after.Bytes - before.Bytes);
            Assert.Equal(1UL, afterAction.Packets - beforeAction.Packets);
            Assert.Equal((ulong)bytes.Length, afterAction.Bytes - beforeAction.Bytes);
        }

        // The oracle agrees with the table.
        var oracle = ReferenceEvaluator.Evaluate(rs, bytes);
        string oracleSays = oracle.Reason switch
        {
            Reason.Rule => rs.Rules[oracle.RuleIndex].Name,
            Reason.Default => "default",
            Reason.Malformed => "malformed",
            _ => "non-ip",
        };
        Assert.Equal(expected, oracleSays);
    }
}
