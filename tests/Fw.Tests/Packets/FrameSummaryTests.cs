using Fw.Packets;
using Fw.Rules;
using Fw.Testing.Random;

namespace Fw.Tests.Packets;

/// <summary>The one-line, tcpdump-like summary of a frame (<see cref="FrameSummary"/>): what it says, and that any bytes give a line.</summary>
public class FrameSummaryTests
{
    const string A = "198.51.100.7", B = "192.0.2.10", A6 = "2001:db8::1", B6 = "2001:db8::2";

    public static readonly TheoryData<string, Frame, string> Lines = new()
    {
        { "tcp syn", Frame.Tcp(A, B, 40000, 22), "IP 198.51.100.7.40000 > 192.0.2.10.22: tcp SYN" },
        { "tcp flags and data", Frame.Tcp(A, B, 443, 50000, TcpFlags.Psh | TcpFlags.Ack).WithPayload(100),
            "IP 198.51.100.7.443 > 192.0.2.10.50000: tcp PSH,ACK, length 100" },
        { "tcp no flags", Frame.Tcp(A, B, 1, 2, TcpFlags.None), "IP 198.51.100.7.1 > 192.0.2.10.2: tcp [none]" },
        { "tcp options are not payload", Frame.Tcp(A, B, 1, 2).WithTcp(t => t with { Options = [2, 4, 5, 0xb4] }),
            "IP 198.51.100.7.1 > 192.0.2.10.2: tcp SYN" },
        { "udp in a vlan", Frame.Udp(A, B, 123, 40000).WithPayload(48).WithVlan(100),
            "vlan 100, IP 198.51.100.7.123 > 192.0.2.10.40000: udp, length 48" },
        { "qinq", Frame.Udp(A, B, 1, 53).WithQinQ(10, 20), "vlan 10, vlan 20, IP 198.51.100.7.1 > 192.0.2.10.53: udp" },
        { "three tags", Frame.Udp(A, B, 1, 53).WithVlan(1).WithVlan(2).WithVlan(3),
            "vlan 1, vlan 2, vlan 3, IP 198.51.100.7.1 > 192.0.2.10.53: udp" },
        { "ipv4 options", Frame.Udp(A, B, 1, 2).WithIpOptions([1, 1, 1, 0]), "IP 198.51.100.7.1 > 192.0.2.10.2: udp" },
        { "icmp echo", Frame.Icmp(A, B, 8).WithPayload(56), "IP 198.51.100.7 > 192.0.2.10: icmp echo request, length 56" },
        { "icmp port unreachable", Frame.Icmp(A, B, 3, 3), "IP 198.51.100.7 > 192.0.2.10: icmp unreachable port" },
        { "icmp unnamed type", Frame.Icmp(A, B, 200, 9), "IP 198.51.100.7 > 192.0.2.10: icmp type 200, code 9" },
        { "icmpv6 neighbour solicitation", Frame.Icmpv6(A6, B6, 135).WithPayload(16),
            "IP6 2001:db8::1 > 2001:db8::2: icmp6 neighbor solicitation, length 16" },
        { "icmpv6 code", Frame.Icmpv6(A6, B6, 1, 4), "IP6 2001:db8::1 > 2001:db8::2: icmp6 destination unreachable, code 4" },
        { "tcp ipv6", Frame.Tcp(A6, B6, 1, 23, TcpFlags.Ack), "IP6 2001:db8::1.1 > 2001:db8::2.23: tcp ACK" },
        { "extension chain", Frame.Udp(A6, B6, 7, 9).WithExtensions(Ipv6Ext.HopByHop(), Ipv6Ext.DestOptions(16)).AsFragment(0, more: true),
            "IP6 2001:db8::1.7 > 2001:db8::2.9: ext hop,dest, frag 0+, udp" },
        { "authentication header", Frame.Tcp(A6, B6, 5, 6).WithExtensions(Ipv6Ext.Ah(12), Ipv6Ext.Routing()),
            "IP6 2001:db8::1.5 > 2001:db8::2.6: ext ah,route, tcp SYN" },
        { "ipv4 non-first fragment", Frame.Tcp(A, B, 40000, 22).AsFragment(185),
            "IP 198.51.100.7 > 192.0.2.10: frag 1480, tcp, length 20" },
        { "ipv6 non-first fragment", Frame.Udp(A6, B6, 7, 9).AsFragment(100),
            "IP6 2001:db8::1 > 2001:db8::2: frag 800, udp, length 8" },
        { "other protocol", Frame.Ip(A, B, 47, new byte[4]), "IP 198.51.100.7 > 192.0.2.10: proto 47, length 4" },
        { "arp", Frame.Arp("192.0.2.1", "192.0.2.2"), "ARP who-has 192.0.2.2 tell 192.0.2.1" },
        { "lldp", Frame.Raw(EtherTypes.Lldp, new byte[20]), "ethertype 0x88cc (Lldp), length 20" },
        { "unknown ethertype", Frame.Raw(0x1234, []), "ethertype 0x1234" },

        // What a frame fails to hold is said, in brackets, where decoding stops.
        { "short of ethernet", Frame.Tcp(A, B, 1, 2).Truncated(10), "[truncated Ethernet header: 10 of 14 bytes]" },
        { "short of a vlan tag", Frame.Tcp(A, B, 1, 2).WithVlan(5).Truncated(16), "[truncated VLAN tag: 2 of 4 bytes]" },
        { "short of ipv4", Frame.Tcp(A, B, 1, 2).Truncated(20), "IP [truncated header: 6 of 20 bytes]" },
        { "short of tcp", Frame.Tcp(A, B, 40000, 22).Truncated(40),
            "IP 198.51.100.7 > 192.0.2.10: tcp [truncated tcp header: 6 of 20 bytes]" },
        { "bad ihl", Frame.Tcp(A, B, 1, 2).WithIpv4(h => h with { Ihl = 3 }), "IP 198.51.100.7 > 192.0.2.10: [bad IHL 3]" },
        { "ihl past the frame", Frame.Udp(A, B, 1, 2).WithIpv4(h => h with { Ihl = 15 }),
            "IP 198.51.100.7 > 192.0.2.10: [truncated header: IHL 15 is 60 bytes, 28 present]" },
        { "ipv6 under ipv4's ethertype", Frame.Tcp(A6, B6, 1, 2).WithEtherType(EtherTypes.Ipv4), "IP [version 6 under the IPv4 EtherType]" },
        { "ipv4 version 6", Frame.Tcp(A, B, 1, 2).WithIpv4(h => h with { Version = 6 }), "IP [version 6 under the IPv4 EtherType]" },
        { "ipv6 version 4", Frame.Tcp(A6, B6, 1, 2).WithIpv6(h => h with { Version = 4 }), "IP6 [version 4 under the IPv6 EtherType]" },
        { "bogus extension length", Frame.Tcp(A6, B6, 1, 2).WithExtensions(Ipv6Ext.HopByHop() with { LengthField = 200 }),
            "IP6 2001:db8::1 > 2001:db8::2: [truncated extension header 0: 28 of 1608 bytes]" },
        { "total length under 20", Frame.Udp(A, B, 1, 2).WithIpv4(h => h with { TotalLength = 3 }),
            "IP 198.51.100.7.1 > 192.0.2.10.2: udp [bad total length 3]" },
    };

    [Theory]
    [MemberData(nameof(Lines))]
    public void SaysWhatTheFrameHolds(string name, Frame frame, string expected)
    {
        _ = name;
        Assert.Equal(expected, FrameSummary.Describe(frame.Build()));
    }

    [Fact]
    public void AnyBytesGiveALine()
    {
        // Generated frames (every oddity the generator knows) cut at every length, and mutants of every kind.
        var rs = RulesLoader.Parse(RulesetGenerator.Generate(3), "summary.yaml", Path.GetTempPath()).Ruleset!;
        var generator = new FrameGenerator(rs, 3);
        for (int i = 0; i < 300; i++)
        {
            byte[] frame = generator.Next();
            for (int n = 0; n <= frame.Length; n++)
                Assert.False(string.IsNullOrEmpty(FrameSummary.Describe(frame.AsSpan(0, n))));
        }
        var mutator = new FrameMutator(rs, 3);
        for (int i = 0; i < 20_000; i++)
        {
            var m = mutator.Next();
            string line = FrameSummary.Describe(m.Bytes);
            Assert.False(string.IsNullOrEmpty(line));
            Assert.DoesNotContain("not decodable", line);   // every failure of PacketDotNet is caught before it happens
        }
    }
}
