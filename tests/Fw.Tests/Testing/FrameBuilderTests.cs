using Fw.Packets;
using Xunit;

namespace Fw.Tests.Testing;

/// <summary>The builder's bytes at known offsets, its overrides, and the toolkit's own parser and writers.</summary>
public class FrameBuilderTests
{
    [Fact]
    public void Layers_land_at_their_offsets()
    {
        var l = Frame.Tcp("192.0.2.1", "198.18.0.1", 1, 2).WithQinQ(10, 20).WithPayload(5).Layout();
        Assert.Equal((22, 22, 42, 62, 67), (l.L2End, l.NetworkOffset, l.TransportOffset, l.PayloadOffset, l.FullLength));
        byte[] b = l.Bytes;
        Assert.Equal([0x88, 0xa8, 0x00, 0x0a, 0x81, 0x00, 0x00, 0x14, 0x08, 0x00], b[12..22]);
        Assert.Equal(0x45, b[22]);                          // version 4, IHL 5
        Assert.Equal([0x00, 45], b[24..26]);                 // total length 20 + 20 + 5
        Assert.Equal(6, b[31]);                              // protocol
        Assert.Equal([192, 0, 2, 1, 198, 18, 0, 1], b[34..42]);
        Assert.Equal([0, 1, 0, 2], b[42..46]);               // ports
        Assert.Equal(0x50, b[54]);                           // data offset 5
        Assert.Equal((byte)TcpFlags.Syn, b[55]);
        Assert.Equal([0, 1, 2, 3, 4], b[62..]);
    }

    [Fact]
    public void Ipv6_extension_headers_get_their_length_fields_and_chain()
    {
        var f = Frame.Udp("2001:db8::1", "2001:db8::2", 7, 9)
            .WithExtensions(Ipv6Ext.HopByHop(16), Ipv6Ext.Ah(12), Ipv6Ext.Fragment(0x1fff, more: true, id: 7), Ipv6Ext.Routing(24));
        var l = f.Layout();
        byte[] b = l.Bytes;
        int at = l.NetworkOffset;
        Assert.Equal(0, b[at + 6]);                          // IPv6 next header: hop-by-hop
        at += 40;
        Assert.Equal([51, 1], b[at..(at + 2)]);              // hop-by-hop: next AH, (1 + 1) * 8 = 16 bytes
        at += 16;
        Assert.Equal([44, 4], b[at..(at + 2)]);              // AH: next fragment, (4 + 2) * 4 = 24 bytes
        at += 24;
        Assert.Equal([43, 0, 0xff, 0xf9, 0, 0, 0, 7], b[at..(at + 8)]); // offset 0x1fff << 3 | M
        at += 8;
        Assert.Equal([17, 2, 0], b[at..(at + 3)]);           // routing: next UDP, (2 + 1) * 8 = 24 bytes, type 0
        at += 24;
        Assert.Equal(l.TransportOffset, at);
        Assert.Equal(16 + 24 + 8 + 24 + 8, b[l.NetworkOffset + 4] << 8 | b[l.NetworkOffset + 5]); // payload length
    }

    [Fact]
    public void Overrides_write_exactly_what_they_say()
    {
        var v4 = Frame.Tcp("192.0.2.1", "198.18.0.1", 1, 2)
            .WithIpv4(h => h with { Ihl = 3, Version = 7, TotalLength = 9, Protocol = 200, Checksum = 0xbeef })
            .WithTcp(t => t with { DataOffset = 15, Checksum = 0x1234 })
            .Layout();
        Assert.Equal(0x73, v4.Bytes[14]);
        Assert.Equal([0, 9], v4.Bytes[16..18]);
        Assert.Equal(200, v4.Bytes[23]);
        Assert.Equal([0xbe, 0xef], v4.Bytes[24..26]);
        Assert.Equal(0xf0, v4.Bytes[v4.TransportOffset + 12]);
        Assert.Equal([0x12, 0x34], v4.Bytes[(v4.TransportOffset + 16)..(v4.TransportOffset + 18)]);

        var ext = Ipv6Ext.DestOptions() with { LengthField = 250, NextHeader = 99 };
        var v6 = Frame.Ip("2001:db8::1", "2001:db8::2", 17).WithExtensions(ext).WithIpv6(h => h with { Version = 3 }).Layout();
        Assert.Equal(0x30, v6.Bytes[14] & 0xf0);
        Assert.Equal([99, 250], v6.Bytes[54..56]);

        Assert.Equal(13, Frame.Tcp("192.0.2.1", "198.18.0.1", 1, 2).Truncated(13).Build().Length);
        Assert.Empty(Frame.Tcp("192.0.2.1", "198.18.0.1", 1, 2).Truncated(0).Build());
        byte[] whole = Frame.Udp("2001:db8::1", "2001:db8::2", 1, 2).Build();
        Assert.Equal(whole[..50], Frame.Udp("2001:db8::1", "2001:db8::2", 1, 2).Truncated(50).Build());
    }

    [Fact]
    public void Fragments_are_marked_per_family()
    {
        var v4 = Frame.Udp("192.0.2.1", "198.18.0.1", 1, 2).AsFragment(0x1234 & 0x1fff, more: true).Build();
        Assert.Equal([0x32, 0x34], v4[20..22]); // MF | offset
        var v6 = FrameParser.Parse(Frame.Udp("2001:db8::1", "2001:db8::2", 1, 2).AsFragment(3).Build());
        Assert.True(v6.NonFirstFragment);
        Assert.Equal(new ParsedExt(44, 17, 8, 3, false), v6.Ipv6!.Extensions.Single());
        Assert.Null(v6.Udp);
    }

    public static TheoryData<string> ChecksumFrames => new(ChecksumTable.Keys);

    static readonly Dictionary<string, Frame> ChecksumTable = new()
    {
        ["tcp4"] = Frame.Tcp("192.0.2.1", "198.18.0.1", 1000, 22, TcpFlags.Ack).WithPayload(33).WithIpOptions([1, 1, 1, 1, 1]),
        ["udp4"] = Frame.Udp("192.0.2.1", "198.18.0.1", 1000, 53).WithPayload(7),
        ["icmp4"] = Frame.Icmp("192.0.2.1", "198.18.0.1", 8).WithPayload(3),
        ["tcp6"] = Frame.Tcp("2001:db8::1", "2001:db8:ffff::1", 1000, 22).WithPayload(9).WithExtensions(Ipv6Ext.HopByHop()),
        ["udp6"] = Frame.Udp("2001:db8::1", "2001:db8:ffff::1", 1000, 53).WithPayload(1),
        ["icmp6"] = Frame.Icmpv6("2001:db8::1", "2001:db8:ffff::1", 135).WithPayload(16),
        ["udp4 zero sum"] = Frame.Udp("0.0.0.0", "0.0.0.0", 0, 0).WithUdp(u => u with { Length = 0xffe6 }),
    };

    [Theory]
    [MemberData(nameof(ChecksumFrames))]
    public void Checksums_verify(string name)
    {
        var p = FrameParser.Parse(ChecksumTable[name].Build());
        Assert.Null(p.Problem);
        if (p.Ipv4 is not null)
            Assert.True(p.Ipv4.ChecksumOk);
        Assert.True(p.Tcp?.ChecksumOk ?? p.Udp?.ChecksumOk ?? p.Icmp!.ChecksumOk, p.ToString());
    }

    [Fact]
    public void A_udp_checksum_that_computes_to_zero_is_sent_as_ffff()
    {
        // The sum of this datagram is 0xffff, so the computed checksum is 0, which UDP reserves for "none".
        var p = FrameParser.Parse(ChecksumTable["udp4 zero sum"].Build());
        Assert.Equal(0xffff, p.Udp!.Checksum);
        Assert.True(p.Udp.ChecksumOk);
    }

    [Fact]
    public void Overridden_fields_keep_the_checksums_that_cover_them_right()
    {
        // FrameEdits writes an override and adjusts the checksum over it: only a checksum override makes one wrong.
        var v4 = FrameParser.Parse(Frame.Tcp("192.0.2.1", "198.18.0.1", 1, 2).WithPayload(9)
            .WithIpv4(h => h with { Version = 7, Ihl = 5, TotalLength = 1000, Protocol = 99 })
            .WithTcp(t => t with { DataOffset = 9 }).Build());
        Assert.True(v4.Ipv4!.ChecksumOk);
        Assert.Equal((7, 1000, 99), (v4.Ipv4.Version, (int)v4.Ipv4.TotalLength, (int)v4.Ipv4.Protocol));
        var tcp = FrameParser.Parse(Frame.Tcp("192.0.2.1", "198.18.0.1", 1, 2).WithPayload(9).WithTcp(t => t with { DataOffset = 9 }).Build());
        Assert.Equal(9, tcp.Tcp!.DataOffset);
        Assert.True(tcp.Tcp.ChecksumOk);
        var udp = FrameParser.Parse(Frame.Udp("2001:db8::1", "2001:db8::2", 1, 2).WithPayload(3).WithUdp(u => u with { Length = 4 }).Build());
        Assert.Equal(4, udp.Udp!.Length);
        Assert.True(udp.Udp.ChecksumOk);
    }

    [Fact]
    public void PacketDotNet_builds_the_well_formed_frame()
    {
        // ToPacket is what PacketDotNet built, before FrameEdits: a frame without oddities is those bytes exactly.
        var frame = Frame.Tcp("192.0.2.1", "198.18.0.1", 40000, 22).WithIpOptions([1, 1, 1, 0])
            .WithTcp(t => t with { Options = [2, 4, 5, 0xb4] }).WithPayload(7).WithQinQ(10, 20);
        byte[] bytes = frame.Build();
        Assert.Equal(bytes, frame.ToPacket().Bytes);
        var parsed = PacketDotNet.Packet.ParsePacket(PacketDotNet.LinkLayers.Ethernet, bytes);
        Assert.True(parsed.Extract<PacketDotNet.IPv4Packet>().ValidIPChecksum);
        Assert.True(parsed.Extract<PacketDotNet.TcpPacket>().ValidTcpChecksum);
        Assert.Equal(24, parsed.Extract<PacketDotNet.TcpPacket>().DataOffset * 4);

        var icmp6 = PacketDotNet.Packet.ParsePacket(PacketDotNet.LinkLayers.Ethernet, Frame.Icmpv6("2001:db8::1", "2001:db8::2", 135).WithPayload(16).Build());
        Assert.True(icmp6.Extract<PacketDotNet.IcmpV6Packet>().ValidIcmpChecksum);
    }

    [Fact]
    public void The_parser_reads_back_what_was_built()
    {
        var p = FrameParser.Parse(Frame.Tcp("2001:db8::1", "2001:db8::2", 443, 50000, TcpFlags.Fin | TcpFlags.Ack)
            .WithVlan(7).WithVlan(8, EtherTypes.QinQ).WithExtensions(Ipv6Ext.DestOptions(), Ipv6Ext.Fragment(0)).Build());
        Assert.Equal([new VlanTag(7), new VlanTag(8, EtherTypes.QinQ)], p.Vlans);
        Assert.Equal(EtherTypes.Ipv6, p.EtherType);
        Assert.Equal([60, 44], p.Ipv6!.Extensions.Select(e => e.Type));
        Assert.Equal(6, p.Ipv6.Protocol);
        Assert.False(p.NonFirstFragment);
        Assert.Equal((443, 50000, TcpFlags.Fin | TcpFlags.Ack), (p.Tcp!.SrcPort, p.Tcp.DstPort, p.Tcp.Flags));
        Assert.Contains("TCP 443 > 50000", p.ToString());
    }

    [Fact]
    public void The_parser_says_where_it_stopped()
    {
        Assert.Contains("Ethernet", FrameParser.Parse(new byte[5]).Problem);
        Assert.Contains("IHL 15", FrameParser.Parse(Frame.Tcp("192.0.2.1", "198.18.0.1", 1, 2).WithIpv4(h => h with { Ihl = 15 }).Build()).Problem);
        Assert.Contains("TCP header", FrameParser.Parse(Frame.Tcp("192.0.2.1", "198.18.0.1", 1, 2).Truncated(14 + 20 + 19).Build()).Problem);
        Assert.Contains("extension header 0", FrameParser.Parse(Frame.Ip("2001:db8::1", "2001:db8::2", 59)
            .WithExtensions(Ipv6Ext.HopByHop() with { LengthField = 3 }).Build()).Problem);
    }

    [Fact]
    public void Hex_round_trips()
    {
        byte[] f = Frame.Icmpv6("2001:db8::1", "2001:db8::2", 128).Build();
        Assert.Equal(f, FrameHex.Parse(FrameHex.Format(f)));
        Assert.Equal([0xab, 0x01], FrameHex.Parse(" 0xAB:01\n"));
    }
}
