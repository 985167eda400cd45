using Fw.Packets;
using Xunit;

namespace Fw.Tests.Testing;

/// <summary>
/// The frame builder checked by an independent decoder: every frame is written to a pcap file and read
/// back by tcpdump (-nn -vv -e), whose text must show what the frame was built to say, checksums included.
/// </summary>
public class FrameTcpdumpTests
{
    const string V4a = "192.0.2.1", V4b = "198.18.0.1", V6a = "2001:db8::1", V6b = "2001:db8:bad::2";

    static readonly Dictionary<string, (Frame Frame, string[] Expected)> Table = new()
    {
        // Ethernet and VLAN tags
        ["tcp syn over ipv4"] = (Frame.Tcp(V4a, V4b, 40000, 22, TcpFlags.Syn),
            ["02:00:00:00:00:01 > 02:00:00:00:00:02", "ethertype IPv4 (0x0800), length 54:", "proto TCP (6), length 40",
             "192.0.2.1.40000 > 198.18.0.1.22: Flags [S], cksum 0x", "(correct)", "win 65535, length 0"]),
        ["one 802.1Q tag"] = (Frame.Tcp(V4a, V4b, 1, 2).WithVlan(100),
            ["ethertype 802.1Q (0x8100), length 58: vlan 100, p 0, ethertype IPv4 (0x0800)", "192.0.2.1.1 > 198.18.0.1.2"]),
        ["QinQ"] = (Frame.Tcp(V4a, V4b, 1, 2).WithQinQ(100, 200),
            ["ethertype 802.1Q-QinQ (0x88a8), length 62: vlan 100, p 0, ethertype 802.1Q (0x8100), vlan 200, p 0, ethertype IPv4"]),
        ["three tags"] = (Frame.Tcp(V4a, V4b, 1, 2).WithVlan(1).WithVlan(2, EtherTypes.QinQ).WithVlan(4095),
            ["vlan 1, p 0, ethertype 802.1Q-QinQ (0x88a8), vlan 2, p 0, ethertype 802.1Q (0x8100), vlan 4095, p 0, ethertype IPv4"]),
        ["arp"] = (Frame.Arp(V4a, "192.0.2.2"),
            ["02:00:00:00:00:01 > ff:ff:ff:ff:ff:ff, ethertype ARP (0x0806), length 42", "Request who-has 192.0.2.2 tell 192.0.2.1"]),
        ["lldp ethertype"] = (Frame.Raw(EtherTypes.Lldp, new byte[20]), ["ethertype LLDP (0x88cc), length 34"]),

        // IPv4
        ["ipv4 options"] = (Frame.Tcp(V4a, V4b, 1, 2).WithIpOptions([1, 1, 1, 0]),
            ["length 44, options (NOP,NOP,NOP,EOL))", "Flags [S], cksum 0x", "(correct)"]),
        ["ipv4 first fragment"] = (Frame.Udp(V4a, V4b, 5000, 6000).WithPayload(8).AsFragment(0, more: true),
            ["offset 0, flags [+], proto UDP (17)", "192.0.2.1.5000 > 198.18.0.1.6000: UDP, length 8"]),
        ["ipv4 non-first fragment"] = (Frame.Udp(V4a, V4b, 5000, 6000).AsFragment(100),
            ["offset 800, flags [none], proto UDP (17)", "192.0.2.1 > 198.18.0.1: ip-proto-17"]),
        ["ipv4 dont fragment"] = (Frame.Tcp(V4a, V4b, 1, 2).WithIpv4(h => h with { DontFragment = true, Ttl = 7, Id = 4242, Tos = 0x10 }),
            ["tos 0x10, ttl 7, id 4242, offset 0, flags [DF]"]),
        ["ipv4 any protocol"] = (Frame.Ip(V4a, V4b, 132, new byte[12]), ["proto SCTP (132)", "192.0.2.1.0 > 198.18.0.1.0: sctp"]),
        ["udp ipv4"] = (Frame.Udp(V4a, V4b, 1234, 4321).WithPayload(11), ["192.0.2.1.1234 > 198.18.0.1.4321: [udp sum ok] UDP, length 11"]),
        ["icmp echo"] = (Frame.Icmp(V4a, V4b, 8), ["proto ICMP (1), length 28", "192.0.2.1 > 198.18.0.1: ICMP echo request, id 1, seq 1, length 8"]),
        ["icmp echo reply with data"] = (Frame.Icmp(V4a, V4b, 0).WithPayload(32), ["ICMP echo reply, id 1, seq 1, length 40"]),
        ["icmp time exceeded"] = (Frame.Icmp(V4a, V4b, 11).WithPayload(Frame.Udp(V4b, V4a, 1, 2).Build()[14..]),
            ["ICMP time exceeded in-transit"]),

        // IPv6
        ["udp ipv6"] = (Frame.Udp(V6a, V6b, 1234, 4321).WithPayload(12),
            ["ethertype IPv6 (0x86dd), length 74", "hlim 64, next-header UDP (17) payload length: 20",
             "2001:db8::1.1234 > 2001:db8:bad::2.4321: [udp sum ok] UDP, length 12"]),
        ["tcp ipv6 all flags"] = (Frame.Tcp(V6a, V6b, 80, 443, (TcpFlags)0xff),
            ["2001:db8::1.80 > 2001:db8:bad::2.443: Flags [FSRP.UEW], cksum 0x", "(correct)"]),
        ["ipv6 extension chain"] = (Frame.Tcp(V6a, V6b, 1, 2, TcpFlags.Ack)
                .WithExtensions(Ipv6Ext.HopByHop(), Ipv6Ext.DestOptions(16), Ipv6Ext.Routing(), Ipv6Ext.Ah()),
            ["next-header Options (0) payload length: 76",
             "HBH (padn) DSTOPT (padn) RT6 (len=0, type=0 [Deprecated], segleft=0, rsv=0x0) AH(length=4(24-bytes),spi=0x00000100,seq=0x1,",
             "1 > 2: Flags [.], cksum 0x", "(correct)"]),
        ["ipv6 first fragment"] = (Frame.Udp(V6a, V6b, 7, 9).AsFragment(0, more: true),
            ["next-header Fragment (44) payload length: 16", "frag (0x00001234:0|8) 7 > 9: UDP, length 0"]),
        ["ipv6 non-first fragment"] = (Frame.Udp(V6a, V6b, 7, 9).AsFragment(100),
            ["frag (0x00001234:800|8)"]),
        ["icmpv6 echo"] = (Frame.Icmpv6(V6a, V6b, 128), ["next-header ICMPv6 (58) payload length: 8", "[icmp6 sum ok] ICMP6, echo request, id 1, seq 1"]),
        ["icmpv6 neighbor solicitation"] = (Frame.Icmpv6(V6a, V6b, 135).WithPayload(System.Net.IPAddress.Parse("2001:db8::99").GetAddressBytes()),
            ["[icmp6 sum ok] ICMP6, neighbor solicitation, length 24, who has 2001:db8::99"]),
        ["icmpv6 unreachable code"] = (Frame.Icmpv6(V6a, V6b, 1, 4).WithPayload(Frame.Udp(V6b, V6a, 1, 2).Build()[14..]),
            ["[icmp6 sum ok] ICMP6, destination unreachable, unreachable port"]),

        // Deliberately wrong frames
        ["truncated in tcp"] = (Frame.Tcp(V4a, V4b, 40000, 22).Truncated(40), ["length 40: truncated-ip - 14 bytes missing!", "[|tcp]"]),
        ["truncated in ethernet"] = (Frame.Tcp(V4a, V4b, 1, 2).Truncated(10), ["[|ether]"]),
        ["truncated in vlan tag"] = (Frame.Tcp(V4a, V4b, 1, 2).WithVlan(5).Truncated(16), ["[|vlan]"]),
        ["ihl 3"] = (Frame.Tcp(V4a, V4b, 1, 2).WithIpv4(h => h with { Ihl = 3 }), ["bad-hlen 12"]),
        ["ihl 15 without the bytes"] = (Frame.Tcp(V4a, V4b, 1, 2).WithIpv4(h => h with { Ihl = 15 }), ["bad-len 40"]),
        ["ipv4 version 6"] = (Frame.Tcp(V4a, V4b, 1, 2).WithIpv4(h => h with { Version = 6 }), ["IP6, wrong link-layer encapsulation"]),
        ["ipv6 version 4"] = (Frame.Tcp(V6a, V6b, 1, 2).WithIpv6(h => h with { Version = 4 }), ["version error: 4 != 6"]),
        ["bogus extension length"] = (Frame.Tcp(V6a, V6b, 1, 2).WithExtensions(Ipv6Ext.HopByHop() with { LengthField = 200 }), ["[|hbhopt]"]),
        ["bad ip checksum"] = (Frame.Icmp(V4a, V4b, 8).WithIpv4(h => h with { Checksum = 1 }), ["bad cksum 1 (->"]),
        ["bad tcp checksum"] = (Frame.Tcp(V4a, V4b, 1, 2).WithTcp(t => t with { Checksum = 7 }), ["cksum 0x0007 (incorrect ->"]),
        ["bad udp checksum"] = (Frame.Udp(V6a, V6b, 1, 2).WithUdp(u => u with { Checksum = 7 }), ["[bad udp cksum 0x0007 ->"]),
        ["bad icmp checksum"] = (Frame.Icmp(V4a, V4b, 8).WithIcmp(i => i with { Checksum = 1 }), ["(wrong icmp cksum 1 (->"]),
        ["bad icmpv6 checksum"] = (Frame.Icmpv6(V6a, V6b, 128).WithIcmp(i => i with { Checksum = 7 }), ["[bad icmp6 cksum 0x0007 ->"]),
        ["icmpv6 in ipv4"] = (Frame.Icmpv6(V4a, V4b, 128), ["proto ICMPv6 (58)", "[ICMPv6 requires IPv6]"]),
        ["icmp in ipv6"] = (Frame.Icmp(V6a, V6b, 8), ["next-header ICMP (1)", "[ICMP requires IPv4]"]),
    };

    public static TheoryData<string> Cases => new(Table.Keys);

    [Theory]
    [MemberData(nameof(Cases))]
    public void Tcpdump_decodes_what_was_built(string description)
    {
        var (frame, expected) = Table[description];
        string text = Tcpdump.Decode(frame.Build(), "-nn -vv -e");
        foreach (string e in expected)
            Assert.True(text.Contains(e, StringComparison.Ordinal), $"{description}: expected \"{e}\" in\n{text}");
        if (!description.StartsWith("bad ", StringComparison.Ordinal))
            Assert.DoesNotContain("incorrect", text);
    }

    [Theory]
    [InlineData(TcpFlags.Fin, "F")]
    [InlineData(TcpFlags.Syn, "S")]
    [InlineData(TcpFlags.Rst, "R")]
    [InlineData(TcpFlags.Psh, "P")]
    [InlineData(TcpFlags.Ack, ".")]
    [InlineData(TcpFlags.Urg, "U")]
    [InlineData(TcpFlags.Ece, "E")]
    [InlineData(TcpFlags.Cwr, "W")]
    [InlineData(TcpFlags.Syn | TcpFlags.Ack, "S.")]
    [InlineData(TcpFlags.None, "none")]
    public void Each_tcp_flag_lands_on_its_bit(TcpFlags flags, string letters)
    {
        string text = Tcpdump.Decode(Frame.Tcp(V4a, V4b, 1, 2, flags).Build(), "-nn -vv -e");
        Assert.Contains($"Flags [{letters}], cksum", text);
        Assert.Contains("(correct)", text);
    }

    [Fact]
    public void A_pcap_of_many_frames_reads_back_in_order_with_their_lengths()
    {
        var frames = Enumerable.Range(0, 50)
            .Select(i => Frame.Udp(V4a, V4b, (ushort)(1000 + i), 53).WithVlan((ushort)i).WithPayload(i).Build())
            .ToList();
        var decoded = Tcpdump.Decode(frames, "-nn -v -e");
        for (int i = 0; i < frames.Count; i++)
        {
            Assert.Contains($"length {frames[i].Length}: vlan {i}, p 0", decoded[i]);
            Assert.Contains($"192.0.2.1.{1000 + i} > 198.18.0.1.53", decoded[i]);
        }
    }
}
