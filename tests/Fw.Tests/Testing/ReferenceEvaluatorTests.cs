using System.Net;
using Fw.Rules;
using Fw.Packets;
using Fw.Testing.Reference;
using Xunit;
using static Fw.Rules.RuleAction;

namespace Fw.Tests.Testing;

/// <summary>
/// The oracle against the contract, one row (or a few) per sentence of "Semantics" in issue 2.
/// Rulesets are built directly from the model, so these rows hold whatever the YAML parser does.
/// </summary>
public class ReferenceEvaluatorTests
{
    // ---- A small language for rows ---------------------------------------------------------------

    sealed record R(RuleAction Action = Drop)
    {
        public AddressMatch? Src { get; init; }
        public AddressMatch? Dst { get; init; }
        public byte[]? Proto { get; init; }
        public PortRange[]? Sport { get; init; }
        public PortRange[]? Dport { get; init; }
        public TcpFlagsMatch? Flags { get; init; }
        public byte[]? Icmp { get; init; }

        public Rule ToRule(int index) => new()
        {
            Index = index,
            Name = $"rule-{index + 1}",
            Pos = new SourcePos("table", index + 1, 1),
            Src = Src,
            Dst = Dst,
            Proto = Proto,
            Sport = Sport,
            Dport = Dport,
            TcpFlags = Flags,
            IcmpType = Icmp,
            Action = Action,
            To = Action == Redirect ? "eth1" : null,
        };
    }

    static Ruleset Rs(params R[] rules) => Rs(Pass, rules);

    static Ruleset Rs(RuleAction defaultAction, params R[] rules) => new()
    {
        File = "table",
        Default = defaultAction,
        Rules = rules.Select((r, i) => r.ToRule(i)).ToList(),
    };

    static IpPrefix P(string text)
    {
        string[] parts = text.Split('/');
        var address = IpPrefix.FromAddress(IPAddress.Parse(parts[0]));
        return parts.Length == 1 ? address : IpPrefix.Create(address.Family, address.Bits, int.Parse(parts[1]));
    }

    static AddressMatch A(params string[] prefixes) => new() { Prefixes = prefixes.Select(P).ToList(), Sets = [] };

    static AddressMatch Sets(params PrefixSet[] sets) => new() { Prefixes = [], Sets = sets };

    static PrefixSet Set(string name, params string[] prefixes) =>
        new() { Name = name, Prefixes = prefixes.Select(P).ToList(), Pos = new SourcePos("table", 1, 1) };

    static PortRange[] Ports(params (int Low, int High)[] ranges) => ranges.Select(r => new PortRange((ushort)r.Low, (ushort)r.High)).ToArray();

    static Result Hit(int index, RuleAction action = Drop) => new(action, Reason.Rule, index);
    static Result Default(RuleAction action = Pass) => new(action, Reason.Default, -1);
    static Result Malformed(RuleAction action = Drop) => new(action, Reason.Malformed, -1);
    static Result NonIp(RuleAction action = Pass) => new(action, Reason.NonIp, -1);

    const string V4 = "192.0.2.10", V4b = "198.18.0.1", V6 = "2001:db8::10", V6b = "2001:db8:1::1";
    static Frame Tcp4(ushort sport = 40000, ushort dport = 22, TcpFlags flags = TcpFlags.Syn) => Frame.Tcp(V4, V4b, sport, dport, flags);
    static Frame Tcp6(ushort sport = 40000, ushort dport = 22, TcpFlags flags = TcpFlags.Syn) => Frame.Tcp(V6, V6b, sport, dport, flags);
    static Frame Udp4(ushort sport = 5000, ushort dport = 53) => Frame.Udp(V4, V4b, sport, dport);
    static Frame Udp6(ushort sport = 5000, ushort dport = 53) => Frame.Udp(V6, V6b, sport, dport);
    static Frame From(string src) => src.Contains(':') ? Frame.Udp(src, V6b, 1, 2) : Frame.Udp(src, V4b, 1, 2);
    static Frame To(string dst) => dst.Contains(':') ? Frame.Udp(V6, dst, 1, 2) : Frame.Udp(V4, dst, 1, 2);
    static Ipv6Ext[] Hops(int n) => Enumerable.Range(0, n).Select(i => (i % 4) switch
    {
        0 => Ipv6Ext.HopByHop(),
        1 => Ipv6Ext.Routing(16),
        2 => Ipv6Ext.DestOptions(24),
        _ => Ipv6Ext.Ah(8),
    }).ToArray();

    static readonly byte[] Tcp = [6], Udp = [17], Icmp = [1], Icmp6 = [58];
    static readonly PrefixSet Empty = Set("empty");
    static readonly PrefixSet Mixed = Set("mixed", "198.18.0.0/15", "2001:db8:1::/48");

    // "syn,!ack"
    static readonly TcpFlagsMatch SynNotAck = new(TcpFlagsMatch.Syn | TcpFlagsMatch.Ack, TcpFlagsMatch.Syn);

    static readonly Ruleset Nested = Rs(
        new R(Drop) { Src = A("198.18.5.0/24") },
        new R(Pass) { Src = A("198.18.0.0/16") });

    static readonly Ruleset AnyToDrop = Rs(Pass, new R(Drop));
    static readonly Ruleset DportSsh = Rs(new R(Drop) { Proto = Tcp, Dport = Ports((22, 22)) });
    static readonly Ruleset UdpOnly = Rs(new R(Drop) { Proto = Udp });
    static readonly Ruleset PassMalformed = new() { File = "table", Malformed = Pass, NonIp = Drop, Rules = [new R(Drop).ToRule(0)] };

    // ---- The table --------------------------------------------------------------------------------

    static readonly Dictionary<string, (Ruleset Rules, byte[] Frame, Result Expected)> Table = new()
    {
        // "A field that is absent matches anything."
        ["no rules: the default decides"] = (Rs(), Tcp4().Build(), Default()),
        ["no rules, default drop"] = (Rs(Drop), Udp6().Build(), Default(Drop)),
        ["a rule with no fields matches ipv4"] = (AnyToDrop, Tcp4().Build(), Hit(0)),
        ["a rule with no fields matches ipv6"] = (AnyToDrop, Frame.Ip(V6, V6b, 99).Build(), Hit(0)),
        ["every present field must match"] = (Rs(new R { Src = A(V4), Dport = Ports((23, 23)), Proto = Tcp }), Tcp4(dport: 22).Build(), Default()),
        ["first match decides"] = (Rs(new R(Pass) { Src = A("192.0.2.0/24") }, new R(Drop) { Src = A(V4) }), Tcp4().Build(), Hit(0, Pass)),
        ["a later rule when earlier ones miss"] = (Rs(new R(Pass) { Src = A("192.0.2.0/29") }, new R(Drop) { Src = A(V4) }), Tcp4().Build(), Hit(1)),
        ["redirect"] = (Rs(new R(Redirect) { Dst = A(V4b) }), Tcp4().Build(), Hit(0, Redirect)),

        // "A list matches if any element matches."
        ["src list, second element"] = (Rs(new R { Src = A("10.0.0.0/8", "192.0.2.0/24") }), Tcp4().Build(), Hit(0)),
        ["proto list"] = (Rs(new R { Proto = [1, 17] }), Udp4().Build(), Hit(0)),
        ["port list"] = (Rs(new R { Proto = Tcp, Dport = Ports((21, 21), (22, 22)) }), Tcp4(dport: 22).Build(), Hit(0)),
        ["icmp_type list"] = (Rs(new R { Proto = Icmp, Icmp = [0, 8] }), Frame.Icmp(V4, V4b, 8).Build(), Hit(0)),
        ["no element matches"] = (Rs(new R { Src = A("10.0.0.0/8", "192.0.2.0/29") }), Tcp4().Build(), Default()),

        // "An address field matches only packets of the same family as one of its prefixes."
        ["ipv4 /0 never matches ipv6"] = (Rs(new R { Src = A("0.0.0.0/0") }), Tcp6().Build(), Default()),
        ["ipv6 /0 never matches ipv4"] = (Rs(new R { Dst = A("::/0") }), Tcp4().Build(), Default()),
        ["ipv4 /0 matches any ipv4"] = (Rs(new R { Src = A("0.0.0.0/0") }), From("255.255.255.255").Build(), Hit(0)),
        ["ipv6 /0 matches any ipv6"] = (Rs(new R { Src = A("::/0") }), From("ffff::1").Build(), Hit(0)),
        ["mixed list, ipv4 packet"] = (Rs(new R { Src = A("::/0", "192.0.2.0/24") }), Tcp4().Build(), Hit(0)),
        ["mixed list, ipv6 packet"] = (Rs(new R { Src = A("192.0.2.0/24", "2001:db8::/32") }), Tcp6().Build(), Hit(0)),
        ["v4-mapped ipv6 is ipv6"] = (Rs(new R { Src = A("192.0.2.0/24") }), From("::ffff:192.0.2.10").Build(), Default()),
        ["/32 matches its address"] = (Rs(new R { Dst = A("198.18.0.1/32") }), To("198.18.0.1").Build(), Hit(0)),
        ["/32 address - 1"] = (Rs(new R { Dst = A("198.18.0.1/32") }), To("198.18.0.0").Build(), Default()),
        ["/32 address + 1"] = (Rs(new R { Dst = A("198.18.0.1") }), To("198.18.0.2").Build(), Default()),
        ["/128 matches its address"] = (Rs(new R { Dst = A("2001:db8::1/128") }), To("2001:db8::1").Build(), Hit(0)),
        ["/128 address + 1"] = (Rs(new R { Dst = A("2001:db8::1") }), To("2001:db8::2").Build(), Default()),
        ["/25 first address"] = (Rs(new R { Src = A("192.0.2.128/25") }), From("192.0.2.128").Build(), Hit(0)),
        ["/25 last address"] = (Rs(new R { Src = A("192.0.2.128/25") }), From("192.0.2.255").Build(), Hit(0)),
        ["/25 one below"] = (Rs(new R { Src = A("192.0.2.128/25") }), From("192.0.2.127").Build(), Default()),
        ["/25 one above"] = (Rs(new R { Src = A("192.0.2.128/25") }), From("192.0.3.0").Build(), Default()),
        ["/64 first"] = (Rs(new R { Src = A("2001:db8:0:5::/64") }), From("2001:db8:0:5::").Build(), Hit(0)),
        ["/64 last"] = (Rs(new R { Src = A("2001:db8:0:5::/64") }), From("2001:db8:0:5:ffff:ffff:ffff:ffff").Build(), Hit(0)),
        ["/64 one below"] = (Rs(new R { Src = A("2001:db8:0:5::/64") }), From("2001:db8:0:4:ffff:ffff:ffff:ffff").Build(), Default()),
        ["/64 one above"] = (Rs(new R { Src = A("2001:db8:0:5::/64") }), From("2001:db8:0:6::").Build(), Default()),
        ["/1 ipv6 top bit"] = (Rs(new R { Src = A("8000::/1") }), From("7fff:ffff:ffff:ffff:ffff:ffff:ffff:ffff").Build(), Default()),
        ["nested: inner prefix, earlier rule"] = (Nested, From("198.18.5.77").Build(), Hit(0)),
        ["nested: outer prefix only"] = (Nested, From("198.18.6.1").Build(), Hit(1, Pass)),
        ["nested: outside both"] = (Nested, From("198.19.5.77").Build(), Default()),
        ["overlapping src and dst both required"] = (Rs(new R { Src = A("192.0.2.0/24"), Dst = A("198.18.0.0/15") }), Tcp4().Build(), Hit(0)),
        ["dst mismatch"] = (Rs(new R { Src = A("192.0.2.0/24"), Dst = A("198.19.0.0/16") }), Tcp4().Build(), Default()),

        // Sets: "@name" contributes its prefixes; "An empty set matches nothing."
        ["set matches ipv4"] = (Rs(new R { Dst = Sets(Mixed) }), Tcp4().Build(), Hit(0)),
        ["set matches ipv6"] = (Rs(new R { Dst = Sets(Mixed) }), Tcp6().Build(), Hit(0)),
        ["set misses"] = (Rs(new R { Src = Sets(Mixed) }), Tcp4().Build(), Default()),
        ["empty set matches nothing"] = (Rs(new R { Src = Sets(Empty) }), Tcp4().Build(), Default()),
        ["empty set matches no ipv6 either"] = (Rs(new R { Src = Sets(Empty) }), Tcp6().Build(), Default()),
        ["empty set beside a prefix"] = (Rs(new R { Src = new AddressMatch { Prefixes = [P("192.0.2.0/24")], Sets = [Empty] } }), Tcp4().Build(), Hit(0)),
        ["two sets, second matches"] = (Rs(new R { Src = Sets(Empty, Set("v4", "192.0.2.0/24")) }), Tcp4().Build(), Hit(0)),

        // "proto is the IPv4 protocol field, or for IPv6 the header that follows the extension-header chain."
        ["proto tcp matches tcp"] = (Rs(new R { Proto = Tcp }), Tcp4().Build(), Hit(0)),
        ["proto tcp misses udp"] = (Rs(new R { Proto = Tcp }), Udp4().Build(), Default()),
        ["proto number"] = (Rs(new R { Proto = [47] }), Frame.Ip(V4, V4b, 47).Build(), Hit(0)),
        ["proto 0 in ipv4 is a protocol"] = (Rs(new R { Proto = [0] }), Frame.Ip(V4, V4b, 0).Build(), Hit(0)),
        ["proto 51 in ipv4 is a protocol, not AH to skip"] = (Rs(new R { Proto = [51] }), Frame.Ip(V4, V4b, 51, new byte[4]).Build(), Hit(0)),
        ["ipv6 proto after the chain"] = (Rs(new R { Proto = Tcp, Dport = Ports((22, 22)) }), Tcp6().WithExtensions(Hops(4)).Build(), Hit(0)),
        ["ipv6 proto is not the first extension"] = (Rs(new R { Proto = [0] }), Tcp6().WithExtensions(Hops(1)).Build(), Default()),
        ["ipv6 no next header"] = (Rs(new R { Proto = [59] }), Frame.Ip(V6, V6b, 59).WithExtensions(Hops(2)).Build(), Hit(0)),
        ["ipv6 unknown header ends the chain"] = (Rs(new R { Proto = [135] }), Frame.Ip(V6, V6b, 135, new byte[8]).WithExtensions(Hops(1)).Build(), Hit(0)),

        // "Parsing: Ethernet, then up to two VLAN tags (0x8100, 0x88a8; a third tag is malformed)"
        ["one 802.1Q tag"] = (DportSsh, Tcp4().WithVlan(100).Build(), Hit(0)),
        ["one 802.1ad tag"] = (DportSsh, Tcp6().WithVlan(100, EtherTypes.QinQ).Build(), Hit(0)),
        ["QinQ"] = (DportSsh, Tcp4().WithQinQ(100, 200).Build(), Hit(0)),
        ["two 802.1Q tags"] = (DportSsh, Tcp6().WithVlan(1).WithVlan(2).Build(), Hit(0)),
        ["two 802.1ad tags"] = (DportSsh, Tcp4().WithVlan(1, EtherTypes.QinQ).WithVlan(2, EtherTypes.QinQ).Build(), Hit(0)),
        ["third tag is malformed"] = (DportSsh, Tcp4().WithQinQ(1, 2).WithVlan(3).Build(), Malformed()),
        ["third tag, malformed: pass"] = (PassMalformed, Tcp4().WithVlan(1).WithVlan(2).WithVlan(3).Build(), Malformed(Pass)),
        ["third tag even before arp"] = (DportSsh, Frame.Arp(V4, V4b).WithVlan(1).WithVlan(2).WithVlan(3).Build(), Malformed()),
        ["third tag cut short"] = (DportSsh, Tcp4().WithVlan(1).WithVlan(2).WithVlan(3).Truncated(22).Build(), Malformed()),

        // "then IPv4 (options allowed; version must be 4 and IHL ≥ 5)"
        ["ipv4 options: ports after IHL*4"] = (DportSsh, Tcp4().WithIpOptions(new byte[40]).Build(), Hit(0)),
        ["ipv4 4 bytes of options"] = (Rs(new R { Proto = Udp, Sport = Ports((5000, 5000)) }), Udp4().WithIpOptions([1, 1, 1, 0]).Build(), Hit(0)),
        ["ipv4 version 6"] = (AnyToDrop, Tcp4().WithIpv4(h => h with { Version = 6 }).Build(), Malformed()),
        ["ipv4 version 0"] = (AnyToDrop, Tcp4().WithIpv4(h => h with { Version = 0 }).Build(), Malformed()),
        ["ipv4 IHL 4"] = (AnyToDrop, Tcp4().WithIpv4(h => h with { Ihl = 4 }).Build(), Malformed()),
        ["ipv4 IHL 0"] = (AnyToDrop, Tcp4().WithIpv4(h => h with { Ihl = 0 }).Build(), Malformed()),
        // With IHL 6 the transport header starts 4 bytes later: the ports are read from the sequence number.
        ["ipv4 IHL 6 moves the transport header"] = (DportSsh, Tcp4(sport: 1, dport: 2).WithTcp(t => t with { Sequence = 22 }).WithPayload(4)
            .WithIpv4(h => h with { Ihl = 6 }).Build(), Hit(0)),
        ["ipv4 IHL 15 without 60 bytes"] = (AnyToDrop, Frame.Ip(V4, V4b, 47, new byte[39]).WithIpv4(h => h with { Ihl = 15 }).Build(), Malformed()),
        ["ipv4 IHL 15 with 60 bytes"] = (AnyToDrop, Frame.Ip(V4, V4b, 47, new byte[40]).WithIpv4(h => h with { Ihl = 15 }).Build(), Hit(0)),
        ["ipv4 header 19 bytes"] = (AnyToDrop, Frame.Ip(V4, V4b, 47).Truncated(14 + 19).Build(), Malformed()),
        ["ipv4 header exactly 20 bytes"] = (AnyToDrop, Frame.Ip(V4, V4b, 47).Build(), Hit(0)),
        ["ipv4 total length is not checked"] = (AnyToDrop, Tcp4().WithIpv4(h => h with { TotalLength = 3 }).Build(), Hit(0)),
        ["ipv4 header checksum is not checked"] = (AnyToDrop, Tcp4().WithIpv4(h => h with { Checksum = 0 }).Build(), Hit(0)),

        // "or IPv6 (up to 8 extension headers among hop-by-hop, routing, fragment, destination options and AH; a ninth is malformed)"
        ["ipv6 header 39 bytes"] = (AnyToDrop, Frame.Ip(V6, V6b, 59).Truncated(14 + 39).Build(), Malformed()),
        ["ipv6 header exactly 40 bytes"] = (AnyToDrop, Frame.Ip(V6, V6b, 59).Build(), Hit(0)),
        ["ipv6 version must be 6"] = (DportSsh, Tcp6().WithIpv6(h => h with { Version = 4 }).Build(), Malformed()),
        ["ipv6 payload length is not checked"] = (DportSsh, Tcp6().WithIpv6(h => h with { PayloadLength = 0 }).Build(), Hit(0)),
        ["8 extension headers"] = (DportSsh, Tcp6().WithExtensions(Hops(8)).Build(), Hit(0)),
        ["9 extension headers"] = (DportSsh, Tcp6().WithExtensions(Hops(9)).Build(), Malformed()),
        ["9 extension headers, the ninth a first fragment"] = (DportSsh, Tcp6().WithExtensions(Hops(8)).AsFragment(0).Build(), Malformed()),
        ["9 headers where the ninth is absent from the frame"] = (AnyToDrop, Frame.Ip(V6, V6b, 0).WithExtensions(Hops(8)).Build(), Malformed()),
        ["8 headers, one a first fragment"] = (DportSsh, Tcp6().WithExtensions(Hops(7)).AsFragment(0, more: true).Build(), Hit(0)),
        ["hop-by-hop (len+1)*8"] = (DportSsh, Tcp6().WithExtensions(Ipv6Ext.HopByHop(32)).Build(), Hit(0)),
        ["routing (len+1)*8"] = (DportSsh, Tcp6().WithExtensions(Ipv6Ext.Routing(40)).Build(), Hit(0)),
        ["destination options (len+1)*8"] = (DportSsh, Tcp6().WithExtensions(Ipv6Ext.DestOptions(16)).Build(), Hit(0)),
        ["AH (len+2)*4"] = (DportSsh, Tcp6().WithExtensions(Ipv6Ext.Ah(4)).Build(), Hit(0)),
        ["AH not 8-aligned"] = (DportSsh, Tcp6().WithExtensions(Ipv6Ext.Ah(8)).Build(), Hit(0)),
        ["AH with an empty ICV"] = (DportSsh, Tcp6().WithExtensions(Ipv6Ext.Ah(0)).Build(), Hit(0)),
        ["extension header length past the frame"] = (AnyToDrop, Tcp6().WithExtensions(Ipv6Ext.DestOptions() with { LengthField = 3 }).Build(), Malformed()),
        ["AH length past the frame"] = (AnyToDrop, Tcp6().WithExtensions(Ipv6Ext.Ah(4) with { LengthField = 9 }).Build(), Malformed()),
        ["extension header cut short"] = (AnyToDrop, Frame.Ip(V6, V6b, 59).WithExtensions(Ipv6Ext.HopByHop(16)).Truncated(14 + 40 + 15).Build(), Malformed()),
        ["extension header with one byte present"] = (AnyToDrop, Frame.Ip(V6, V6b, 59).WithExtensions(Ipv6Ext.HopByHop()).Truncated(14 + 41).Build(), Malformed()),
        ["fragment header cut short"] = (AnyToDrop, Frame.Ip(V6, V6b, 59).AsFragment(5).Truncated(14 + 40 + 7).Build(), Malformed()),
        ["extension header exactly present, nothing after"] = (AnyToDrop, Frame.Ip(V6, V6b, 59).WithExtensions(Ipv6Ext.HopByHop(16)).Build(), Hit(0)),

        // "Any other EtherType is non-IP."
        ["arp"] = (AnyToDrop, Frame.Arp(V4, V4b).Build(), NonIp()),
        ["arp, non_ip: drop"] = (PassMalformed, Frame.Arp(V4, V4b).Build(), NonIp(Drop)),
        ["arp behind a tag"] = (AnyToDrop, Frame.Arp(V4, V4b).WithVlan(5).Build(), NonIp()),
        ["arp behind two tags"] = (AnyToDrop, Frame.Arp(V4, V4b).WithQinQ(5, 6).Build(), NonIp()),
        ["lldp"] = (AnyToDrop, Frame.Raw(EtherTypes.Lldp, new byte[30]).Build(), NonIp()),
        ["ethertype with nothing after it"] = (AnyToDrop, Frame.Raw(0x1234, []).Build(), NonIp()),
        ["ipv4 bytes under a wrong ethertype"] = (AnyToDrop, Tcp4().WithEtherType(0x0801).Build(), NonIp()),
        ["ipv6 bytes under the ipv4 ethertype"] = (AnyToDrop, Tcp6().WithEtherType(EtherTypes.Ipv4).Build(), Malformed()),

        // "Fragments: ... a non-first fragment. It has no L4 header: rules with sport, dport, tcp_flags or
        // icmp_type never match it; rules with only src/dst/proto do. First fragments are matched normally."
        ["ipv4 non-first fragment, dport rule"] = (DportSsh, Tcp4().AsFragment(1).Build(), Default()),
        ["ipv4 non-first fragment, sport rule"] = (Rs(new R { Proto = Udp, Sport = Ports((0, 65535)) }), Udp4().AsFragment(8191).Build(), Default()),
        ["ipv4 non-first fragment, tcp_flags rule"] = (Rs(new R { Proto = Tcp, Flags = new TcpFlagsMatch(0, 0) }), Tcp4().AsFragment(2).Build(), Default()),
        ["ipv4 non-first fragment, icmp_type rule"] = (Rs(new R { Proto = Icmp, Icmp = [8] }), Frame.Icmp(V4, V4b, 8).AsFragment(2).Build(), Default()),
        ["ipv4 non-first fragment, src/dst/proto rule"] = (Rs(new R { Src = A(V4), Dst = A(V4b), Proto = Tcp }), Tcp4().AsFragment(1).Build(), Hit(0)),
        ["ipv4 non-first fragment, no l4 bytes at all"] = (UdpOnly, Udp4().AsFragment(1).Truncated(34).Build(), Hit(0)),
        ["ipv4 non-first fragment, 3 l4 bytes"] = (UdpOnly, Udp4().AsFragment(1).Truncated(37).Build(), Hit(0)),
        ["ipv4 first fragment (MF) matched normally"] = (DportSsh, Tcp4().AsFragment(0, more: true).Build(), Hit(0)),
        ["ipv4 first fragment short of its tcp header"] = (DportSsh, Tcp4().AsFragment(0, more: true).Truncated(14 + 20 + 19).Build(), Malformed()),
        ["ipv4 DF and MF with offset 0 is not a fragment"] = (DportSsh, Tcp4().WithIpv4(h => h with { DontFragment = true, MoreFragments = true }).Build(), Hit(0)),
        ["ipv6 non-first fragment, dport rule"] = (DportSsh, Tcp6().AsFragment(1).Build(), Default()),
        ["ipv6 non-first fragment, tcp_flags rule"] = (Rs(new R { Proto = Tcp, Flags = SynNotAck }), Tcp6().AsFragment(1).Build(), Default()),
        ["ipv6 non-first fragment, icmp_type rule"] = (Rs(new R { Proto = Icmp6, Icmp = [128] }), Frame.Icmpv6(V6, V6b, 128).AsFragment(9).Build(), Default()),
        ["ipv6 non-first fragment, proto is the fragment's next header"] = (UdpOnly, Udp6().AsFragment(1).Build(), Hit(0)),
        ["ipv6 non-first fragment after other headers"] = (UdpOnly, Udp6().WithExtensions(Hops(3)).AsFragment(1).Build(), Hit(0)),
        ["ipv6 non-first fragment, nothing after it"] = (UdpOnly, Udp6().AsFragment(1).Truncated(14 + 40 + 8).Build(), Hit(0)),
        ["ipv6 non-first fragment ends the chain"] = (Rs(new R { Proto = [0] }), Frame.Ip(V6, V6b, 0).AsFragment(3).Build(), Hit(0)),
        ["ipv6 non-first fragment as the eighth header"] = (UdpOnly, Udp6().WithExtensions(Hops(7)).AsFragment(1).Build(), Hit(0)),
        ["ipv6 first fragment matched normally"] = (DportSsh, Tcp6().AsFragment(0, more: true).Build(), Hit(0)),
        ["ipv6 first fragment short of its tcp header"] = (DportSsh, Tcp6().AsFragment(0, more: true).Truncated(14 + 48 + 19).Build(), Malformed()),
        ["ipv6 two fragment headers, the second non-first"] = (UdpOnly, Udp6().AsFragment(0).AsFragment(4).Build(), Hit(0)),

        // "Malformed: a frame shorter than its Ethernet, VLAN, IP or extension headers, or, when it is not a
        // non-first fragment, shorter than the L4 header it names (TCP 20 bytes, UDP 8, ICMP in IPv4 and ICMPv6 in IPv6 8)."
        ["empty frame"] = (AnyToDrop, [], Malformed()),
        ["13 bytes"] = (AnyToDrop, new byte[13], Malformed()),
        ["14 bytes, non-ip"] = (AnyToDrop, Frame.Raw(0x1234, []).Build(), NonIp()),
        ["14 bytes, ipv4 ethertype"] = (AnyToDrop, Tcp4().Truncated(14).Build(), Malformed()),
        ["vlan tag cut short"] = (AnyToDrop, Tcp4().WithVlan(1).Truncated(17).Build(), Malformed()),
        ["second vlan tag cut short"] = (AnyToDrop, Tcp4().WithVlan(1).WithVlan(2).Truncated(21).Build(), Malformed()),
        ["tcp 19 bytes"] = (AnyToDrop, Tcp4().Truncated(14 + 20 + 19).Build(), Malformed()),
        ["tcp 20 bytes"] = (AnyToDrop, Tcp4().Build(), Hit(0)),
        ["tcp data offset is not checked"] = (DportSsh, Tcp4().WithTcp(t => t with { DataOffset = 15 }).Build(), Hit(0)),
        ["udp 7 bytes"] = (AnyToDrop, Udp6().Truncated(14 + 40 + 7).Build(), Malformed()),
        ["udp 8 bytes"] = (AnyToDrop, Udp6().Build(), Hit(0)),
        ["icmp in ipv4, 7 bytes"] = (AnyToDrop, Frame.Icmp(V4, V4b, 8).Truncated(14 + 20 + 7).Build(), Malformed()),
        ["icmp in ipv4, 8 bytes"] = (AnyToDrop, Frame.Icmp(V4, V4b, 8).Build(), Hit(0)),
        ["icmpv6 in ipv6, 7 bytes"] = (AnyToDrop, Frame.Icmpv6(V6, V6b, 128).Truncated(14 + 40 + 7).Build(), Malformed()),
        ["icmpv6 after extensions, 7 bytes"] = (AnyToDrop, Frame.Icmpv6(V6, V6b, 128).WithExtensions(Hops(2)).Truncated(14 + 40 + 24 + 7).Build(), Malformed()),
        ["icmp in ipv6 names no l4 header"] = (AnyToDrop, Frame.Ip(V6, V6b, 1).Build(), Hit(0)),
        ["icmpv6 in ipv4 names no l4 header"] = (AnyToDrop, Frame.Ip(V4, V4b, 58).Build(), Hit(0)),
        ["other protocol with no bytes"] = (AnyToDrop, Frame.Ip(V4, V4b, 132).Build(), Hit(0)),
        ["malformed wins over rules"] = (AnyToDrop, Udp4().Truncated(41).Build(), Malformed()),

        // Ports: a port, an inclusive "lo-hi" range, a list.
        ["sport range low - 1"] = (Rs(new R { Proto = Tcp, Sport = Ports((1024, 65535)) }), Tcp4(sport: 1023).Build(), Default()),
        ["sport range low"] = (Rs(new R { Proto = Tcp, Sport = Ports((1024, 65535)) }), Tcp4(sport: 1024).Build(), Hit(0)),
        ["sport range high"] = (Rs(new R { Proto = Tcp, Sport = Ports((1024, 65535)) }), Tcp4(sport: 65535).Build(), Hit(0)),
        ["dport range high + 1"] = (Rs(new R { Proto = Udp, Dport = Ports((0, 52)) }), Udp4(dport: 53).Build(), Default()),
        ["dport 0"] = (Rs(new R { Proto = Udp, Dport = Ports((0, 0)) }), Udp4(dport: 0).Build(), Hit(0)),
        ["dport single, udp in ipv6"] = (Rs(new R { Proto = [6, 17], Dport = Ports((53, 53)) }), Udp6().Build(), Hit(0)),
        ["sport and dport both"] = (Rs(new R { Proto = Tcp, Sport = Ports((40000, 40000)), Dport = Ports((21, 23)) }), Tcp4().Build(), Hit(0)),
        ["sport matches but dport not"] = (Rs(new R { Proto = Tcp, Sport = Ports((40000, 40000)), Dport = Ports((23, 23)) }), Tcp4().Build(), Default()),
        ["port field, packet without ports"] = (Rs(new R { Dport = Ports((0, 65535)) }), Frame.Icmp(V4, V4b, 8).Build(), Default()),
        ["port field, other protocol"] = (Rs(new R { Sport = Ports((0, 65535)) }), Frame.Ip(V4, V4b, 132, new byte[12]).Build(), Default()),

        // tcp_flags: "listed flags set, ! flags clear, others ignored"
        ["syn,!ack: syn"] = (Rs(new R { Proto = Tcp, Flags = SynNotAck }), Tcp4(flags: TcpFlags.Syn).Build(), Hit(0)),
        ["syn,!ack: syn+ack"] = (Rs(new R { Proto = Tcp, Flags = SynNotAck }), Tcp4(flags: TcpFlags.Syn | TcpFlags.Ack).Build(), Default()),
        ["syn,!ack: syn+ece+cwr+fin, others ignored"] = (Rs(new R { Proto = Tcp, Flags = SynNotAck }), Tcp4(flags: TcpFlags.Syn | TcpFlags.Ece | TcpFlags.Cwr | TcpFlags.Fin).Build(), Hit(0)),
        ["syn,!ack: ack"] = (Rs(new R { Proto = Tcp, Flags = SynNotAck }), Tcp6(flags: TcpFlags.Ack).Build(), Default()),
        ["syn,!ack: none"] = (Rs(new R { Proto = Tcp, Flags = SynNotAck }), Tcp6(flags: TcpFlags.None).Build(), Default()),
        ["!rst: all but rst"] = (Rs(new R { Proto = Tcp, Flags = new TcpFlagsMatch(TcpFlagsMatch.Rst, 0) }), Tcp4(flags: (TcpFlags)0xfb).Build(), Hit(0)),
        ["cwr"] = (Rs(new R { Proto = Tcp, Flags = new TcpFlagsMatch(TcpFlagsMatch.Cwr, TcpFlagsMatch.Cwr) }), Tcp4(flags: TcpFlags.Cwr).Build(), Hit(0)),
        ["tcp_flags, udp packet"] = (Rs(new R { Flags = new TcpFlagsMatch(0, 0) }), Udp4().Build(), Default()),

        // "icmp_type reads ICMP in IPv4 packets and ICMPv6 in IPv6 packets."
        ["icmp type 8"] = (Rs(new R { Proto = [1, 58], Icmp = [8] }), Frame.Icmp(V4, V4b, 8).Build(), Hit(0)),
        ["icmp type 9"] = (Rs(new R { Proto = [1, 58], Icmp = [8] }), Frame.Icmp(V4, V4b, 9).Build(), Default()),
        ["icmpv6 type 128"] = (Rs(new R { Proto = [1, 58], Icmp = [128] }), Frame.Icmpv6(V6, V6b, 128).Build(), Hit(0)),
        ["icmpv6 type 135 after extensions"] = (Rs(new R { Proto = Icmp6, Icmp = [135] }), Frame.Icmpv6(V6, V6b, 135).WithExtensions(Hops(3)).Build(), Hit(0)),
        ["icmp in ipv6: proto matches"] = (Rs(new R { Proto = Icmp }), Frame.Icmp(V6, V6b, 8).Build(), Hit(0)),
        ["icmp in ipv6: icmp_type never"] = (Rs(new R { Proto = [1, 58], Icmp = [8] }), Frame.Icmp(V6, V6b, 8).Build(), Default()),
        ["icmpv6 in ipv4: icmp_type never"] = (Rs(new R { Proto = [1, 58], Icmp = [128] }), Frame.Icmpv6(V4, V4b, 128).Build(), Default()),
        ["icmp_type, tcp packet"] = (Rs(new R { Icmp = [0] }), Tcp4().Build(), Default()),
    };

    public static TheoryData<string> Rows => new(Table.Keys);

    [Theory]
    [MemberData(nameof(Rows))]
    public void Verdict(string row)
    {
        var (rules, frame, expected) = Table[row];
        var actual = ReferenceEvaluator.Evaluate(rules, frame);
        Assert.True(expected == actual,
            $"{row}: expected {expected}, got {actual}\n  seen as: {ReferenceEvaluator.Parse(frame)}\n  frame: {FrameParser.Parse(frame)}\n  hex: {FrameHex.Format(frame)}");
    }

    [Fact]
    public void The_rule_index_is_the_rules_own()
    {
        // Evaluate reports Rule.Index, so a ruleset that is a slice of another (a shrunk failing case) keeps names.
        var rule = new R(Pass).ToRule(41);
        var rs = new Ruleset { File = "t", Rules = [rule] };
        Assert.Equal(new Result(Pass, Reason.Rule, 41), ReferenceEvaluator.Evaluate(rs, Tcp4().Build()));
    }

    [Fact]
    public void Parse_exposes_the_fields_rules_see()
    {
        var p = ReferenceEvaluator.Parse(Tcp6(sport: 7, dport: 9, flags: TcpFlags.Psh).WithVlan(3).WithExtensions(Hops(2)).Build());
        Assert.Equal(FrameKind.Ip, p.Kind);
        Assert.Equal(IpFamily.V6, p.Family);
        Assert.Equal(P(V6).Bits, p.Src);
        Assert.Equal(P(V6b).Bits, p.Dst);
        Assert.Equal(((byte)6, (int?)7, (int?)9, (byte?)TcpFlags.Psh, (byte?)null, false),
            (p.Proto, p.SrcPort, p.DstPort, p.TcpFlags, p.IcmpType, p.NonFirstFragment));

        var v4 = ReferenceEvaluator.Parse(Frame.Icmp(V4, V4b, 3).AsFragment(0, more: true).Build());
        Assert.Equal((IpFamily.V4, P(V4).Bits, (byte)1, (byte?)3, (int?)null), (v4.Family, v4.Src, v4.Proto, v4.IcmpType, v4.SrcPort));

        var frag = ReferenceEvaluator.Parse(Udp4().AsFragment(5).Build());
        Assert.True(frag.NonFirstFragment);
        Assert.Null(frag.SrcPort);
        Assert.Equal(17, frag.Proto);
    }
}
