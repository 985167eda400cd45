using Fw.Packets;
using Fw.Tests.Testing;

namespace Fw.Tests.Packets;

/// <summary>
/// The packet spec grammar of fwctl test: every form builds exactly the frame the builder makes by hand,
/// prints back canonically, is described back from its bytes, decodes in tcpdump as meant, and every
/// mistake is reported at its column.
/// </summary>
public class PacketSpecTests
{
    const string A = "198.51.100.7", B = "192.0.2.10", A6 = "2001:db8::1", B6 = "2001:db8::2";

    /// <summary>spec → the frame built by hand → the canonical spec (what ToString and Describe print).</summary>
    public static readonly TheoryData<string, string, string> Forms = new()
    {
        { "tcp, flag word", "tcp 198.51.100.7:40000 -> 192.0.2.10:22 syn", "tcp 198.51.100.7:40000 -> 192.0.2.10:22 syn" },
        { "tcp, default flags", "tcp 198.51.100.7:40000 -> 192.0.2.10:22", "tcp 198.51.100.7:40000 -> 192.0.2.10:22 syn" },
        { "tcp, comma list, any case, no spaces", "TCP 198.51.100.7:40000->192.0.2.10:22 ACK,Syn", "tcp 198.51.100.7:40000 -> 192.0.2.10:22 syn,ack" },
        { "tcp, bare words", "tcp 198.51.100.7:1 -> 192.0.2.10:2 fin psh urg", "tcp 198.51.100.7:1 -> 192.0.2.10:2 fin,psh,urg" },
        { "tcp, comma and space", "tcp 198.51.100.7:1 -> 192.0.2.10:2 rst, ack", "tcp 198.51.100.7:1 -> 192.0.2.10:2 rst,ack" },
        { "tcp, every flag", "tcp 198.51.100.7:1 -> 192.0.2.10:2 fin,syn,rst,psh,ack,urg,ece,cwr", "tcp 198.51.100.7:1 -> 192.0.2.10:2 fin,syn,rst,psh,ack,urg,ece,cwr" },
        { "tcp, no flags", "tcp 198.51.100.7:1 -> 192.0.2.10:2 none", "tcp 198.51.100.7:1 -> 192.0.2.10:2 none" },
        { "tcp ipv6 with payload", "tcp [2001:db8::1]:443 -> [2001:db8::2]:50000 psh,ack len 100", "tcp [2001:db8::1]:443 -> [2001:db8::2]:50000 psh,ack len 100" },
        { "udp ipv6", "udp [2001:db8::1]:5353 -> [2001:db8::2]:53", "udp [2001:db8::1]:5353 -> [2001:db8::2]:53" },
        { "udp ipv6, written long", "udp [2001:DB8:0:0::1]:5353 -> [2001:db8::2]:53 len 0", "udp [2001:db8::1]:5353 -> [2001:db8::2]:53" },
        { "udp ipv4 with payload", "udp 198.51.100.7:1234 -> 192.0.2.10:4321 len 12", "udp 198.51.100.7:1234 -> 192.0.2.10:4321 len 12" },
        { "icmp", "icmp 192.0.2.1 -> 192.0.2.2 type 8", "icmp 192.0.2.1 -> 192.0.2.2 type 8" },
        { "icmp default type", "icmp 192.0.2.1 -> 192.0.2.2", "icmp 192.0.2.1 -> 192.0.2.2 type 8" },
        { "icmp type and code", "icmp 192.0.2.1 -> 192.0.2.2 code 1 type 3 len 28", "icmp 192.0.2.1 -> 192.0.2.2 type 3 code 1 len 28" },
        { "icmpv6", "icmpv6 2001:db8::1 -> 2001:db8::2 type 135", "icmpv6 2001:db8::1 -> 2001:db8::2 type 135" },
        { "icmpv6 bracketed, default type", "icmpv6 [2001:db8::1] -> [2001:db8::2]", "icmpv6 2001:db8::1 -> 2001:db8::2 type 128" },
        { "icmp in ipv6 (an oddity)", "icmp 2001:db8::1 -> 2001:db8::2 type 13", "icmp 2001:db8::1 -> 2001:db8::2 type 13" },
        { "one vlan", "vlan 100 tcp 198.51.100.7:40000 -> 192.0.2.10:22 syn", "vlan 100 tcp 198.51.100.7:40000 -> 192.0.2.10:22 syn" },
        { "qinq", "vlan 10 vlan 20 udp 198.51.100.7:5000 -> 192.0.2.10:6000", "vlan 10 vlan 20 udp 198.51.100.7:5000 -> 192.0.2.10:6000" },
        { "three tags", "vlan 1 vlan 2 vlan 4095 udp 198.51.100.7:1 -> 192.0.2.10:2", "vlan 1 vlan 2 vlan 4095 udp 198.51.100.7:1 -> 192.0.2.10:2" },
        { "non-first fragment", "frag tcp 198.51.100.7:40000 -> 192.0.2.10:22", "frag 1480 tcp 198.51.100.7:40000 -> 192.0.2.10:22 syn" },
        { "first fragment", "frag 0 udp 198.51.100.7:1 -> 192.0.2.10:2 len 8", "frag 0 udp 198.51.100.7:1 -> 192.0.2.10:2 len 8" },
        { "ipv6 fragment", "frag 800 udp [2001:db8::1]:7 -> [2001:db8::2]:9", "frag 800 udp [2001:db8::1]:7 -> [2001:db8::2]:9" },
        { "prefixes in any order", "frag vlan 7 udp 198.51.100.7:1 -> 192.0.2.10:2", "vlan 7 frag 1480 udp 198.51.100.7:1 -> 192.0.2.10:2" },
        { "extension headers", "ext hop,dest udp [2001:db8::1]:7 -> [2001:db8::2]:9", "ext hop,dest udp [2001:db8::1]:7 -> [2001:db8::2]:9" },
        { "extensions and fragment", "frag 0 ext route, ah tcp [2001:db8::1]:1 -> [2001:db8::2]:2", "ext route,ah frag 0 tcp [2001:db8::1]:1 -> [2001:db8::2]:2 syn" },
        { "any protocol", "proto 47 192.0.2.1 -> 192.0.2.2", "proto 47 192.0.2.1 -> 192.0.2.2" },
        { "protocol by name, ipv6", "proto UDP 2001:db8::1 -> 2001:db8::2 len 4", "proto udp 2001:db8::1 -> 2001:db8::2 len 4" },
        { "arp", "arp 192.0.2.1 -> 192.0.2.2", "arp 192.0.2.1 -> 192.0.2.2" },
        { "arp in a vlan", "vlan 3 arp 192.0.2.1 -> 192.0.2.2", "vlan 3 arp 192.0.2.1 -> 192.0.2.2" },
        { "ether hex", "ether 0x88cc len 20", "ether 0x88cc len 20" },
        { "ether decimal", "ether 34958 len 3", "ether 0x888e len 3" },
        { "truncated", "tcp 198.51.100.7:1 -> 192.0.2.10:22 trunc 40", "tcp 198.51.100.7:1 -> 192.0.2.10:22 syn trunc 40" },
    };

    static readonly Dictionary<string, Frame> ByHand = new()
    {
        ["tcp, flag word"] = Frame.Tcp(A, B, 40000, 22, TcpFlags.Syn),
        ["tcp, default flags"] = Frame.Tcp(A, B, 40000, 22, TcpFlags.Syn),
        ["tcp, comma list, any case, no spaces"] = Frame.Tcp(A, B, 40000, 22, TcpFlags.Syn | TcpFlags.Ack),
        ["tcp, bare words"] = Frame.Tcp(A, B, 1, 2, TcpFlags.Fin | TcpFlags.Psh | TcpFlags.Urg),
        ["tcp, comma and space"] = Frame.Tcp(A, B, 1, 2, TcpFlags.Rst | TcpFlags.Ack),
        ["tcp, every flag"] = Frame.Tcp(A, B, 1, 2, (TcpFlags)0xff),
        ["tcp, no flags"] = Frame.Tcp(A, B, 1, 2, TcpFlags.None),
        ["tcp ipv6 with payload"] = Frame.Tcp(A6, B6, 443, 50000, TcpFlags.Psh | TcpFlags.Ack).WithPayload(100),
        ["udp ipv6"] = Frame.Udp(A6, B6, 5353, 53),
        ["udp ipv6, written long"] = Frame.Udp(A6, B6, 5353, 53),
        ["udp ipv4 with payload"] = Frame.Udp(A, B, 1234, 4321).WithPayload(12),
        ["icmp"] = Frame.Icmp("192.0.2.1", "192.0.2.2", 8),
        ["icmp default type"] = Frame.Icmp("192.0.2.1", "192.0.2.2", 8),
        ["icmp type and code"] = Frame.Icmp("192.0.2.1", "192.0.2.2", 3, 1).WithPayload(28),
        ["icmpv6"] = Frame.Icmpv6(A6, B6, 135),
        ["icmpv6 bracketed, default type"] = Frame.Icmpv6(A6, B6, 128),
        ["icmp in ipv6 (an oddity)"] = Frame.Icmp(A6, B6, 13),
        ["one vlan"] = Frame.Tcp(A, B, 40000, 22).WithVlan(100),
        ["qinq"] = Frame.Udp(A, B, 5000, 6000).WithQinQ(10, 20),
        ["three tags"] = Frame.Udp(A, B, 1, 2).WithVlan(1, EtherTypes.QinQ).WithVlan(2, EtherTypes.QinQ).WithVlan(4095),
        ["non-first fragment"] = Frame.Tcp(A, B, 40000, 22).AsFragment(185),
        ["first fragment"] = Frame.Udp(A, B, 1, 2).WithPayload(8).AsFragment(0, more: true),
        ["ipv6 fragment"] = Frame.Udp(A6, B6, 7, 9).AsFragment(100),
        ["prefixes in any order"] = Frame.Udp(A, B, 1, 2).WithVlan(7).AsFragment(185),
        ["extension headers"] = Frame.Udp(A6, B6, 7, 9).WithExtensions(Ipv6Ext.HopByHop(), Ipv6Ext.DestOptions()),
        ["extensions and fragment"] = Frame.Tcp(A6, B6, 1, 2).WithExtensions(Ipv6Ext.Routing(), Ipv6Ext.Ah()).AsFragment(0, more: true),
        ["any protocol"] = Frame.Ip("192.0.2.1", "192.0.2.2", 47),
        ["protocol by name, ipv6"] = Frame.Ip(A6, B6, 17).WithPayload(4),
        ["arp"] = Frame.Arp("192.0.2.1", "192.0.2.2"),
        ["arp in a vlan"] = Frame.Arp("192.0.2.1", "192.0.2.2").WithVlan(3),
        ["ether hex"] = Frame.Raw(EtherTypes.Lldp, []).WithPayload(20),
        ["ether decimal"] = Frame.Raw(0x888e, []).WithPayload(3),
        ["truncated"] = Frame.Tcp(A, B, 1, 22).Truncated(40),
    };

    [Theory]
    [MemberData(nameof(Forms))]
    public void BuildsTheFrameTheBuilderMakes(string name, string spec, string canonical)
    {
        _ = canonical;
        var parsed = PacketSpec.Parse(spec);
        Assert.Equal(FrameHex.Format(ByHand[name].Build()), FrameHex.Format(parsed.Build()));
    }

    [Theory]
    [MemberData(nameof(Forms))]
    public void PrintsCanonicallyAndParsesBack(string name, string spec, string canonical)
    {
        _ = name;
        var parsed = PacketSpec.Parse(spec);
        Assert.Equal(canonical, parsed.ToString());
        var again = PacketSpec.Parse(canonical);
        Assert.Equal(canonical, again.ToString());
        Assert.Equal(parsed.Build(), again.Build());
    }

    [Theory]
    [MemberData(nameof(Forms))]
    public void DescribesItsOwnFramesBackToTheSpec(string name, string spec, string canonical)
    {
        var bytes = PacketSpec.Parse(spec).Build();
        string described = PacketSpec.Describe(bytes);
        switch (name)
        {
            // The L4 header in a non-first fragment is payload to every parser: described as raw bytes.
            case "non-first fragment":
                Assert.Equal("frag 1480 proto tcp 198.51.100.7 -> 192.0.2.10 len 20", described);
                break;
            case "ipv6 fragment":
                Assert.Equal("frag 800 proto udp 2001:db8::1 -> 2001:db8::2 len 8", described);
                break;
            case "prefixes in any order":
                Assert.Equal("vlan 7 frag 1480 proto udp 198.51.100.7 -> 192.0.2.10 len 8", described);
                break;
            // Four bytes under protocol udp are a cut-short UDP header to any parser.
            case "protocol by name, ipv6":
                Assert.Equal("udp 2001:db8::1 -> 2001:db8::2 (UDP header needs 8 bytes, 4 present)", described);
                break;
            case "truncated":
                Assert.Equal("tcp 198.51.100.7 -> 192.0.2.10 (TCP header needs 20 bytes, 6 present)", described);
                break;
            default:
                Assert.Equal(canonical, described);
                Assert.Equal(bytes, PacketSpec.Parse(described).Build());
                break;
        }
    }

    [Fact]
    public void DescribeSummarisesForeignFrames()
    {
        // What a real capture holds and a spec leaves out: other MACs, TCP options, Ethernet padding.
        var synWithOptions = Frame.Tcp(A, B, 40000, 443).WithTcp(t => t with { Options = [2, 4, 5, 0xb4, 1, 1, 4, 2] })
            with { SrcMac = "52:54:00:12:34:56" };
        Assert.Equal("tcp 198.51.100.7:40000 -> 192.0.2.10:443 syn", PacketSpec.Describe(synWithOptions.Build()));

        var padded = new byte[60];
        Frame.Udp(A, B, 1, 2).WithPayload(4).Build().CopyTo(padded, 0);   // 46 bytes, padded to the 60-byte minimum
        Assert.Equal("udp 198.51.100.7:1 -> 192.0.2.10:2 len 4", PacketSpec.Describe(padded));

        var paddedArp = new byte[60];
        Frame.Arp("192.0.2.1", "192.0.2.2").Build().CopyTo(paddedArp, 0);
        Assert.Equal("arp 192.0.2.1 -> 192.0.2.2", PacketSpec.Describe(paddedArp));

        Assert.Equal("(10 bytes: Ethernet header needs 14 bytes, 10 present)", PacketSpec.Describe(new byte[10]));
        Assert.Equal("ether 0x0800 len 3 (IPv4 header needs 20 bytes, 3 present)", PacketSpec.Describe(PacketSpec.Parse("ether 0x0800 len 3").Build()));
        Assert.Equal("tcp 198.51.100.7:1 -> 192.0.2.10:2 syn (IPv4 header with version 6, IHL 5)",
            PacketSpec.Describe(Frame.Tcp(A, B, 1, 2).WithIpv4(h => h with { Version = 6 }).Build()));
        Assert.Equal("ext hop,hop,hop,hop,hop,hop,hop,hop,hop udp [2001:db8::1]:1 -> [2001:db8::2]:2",
            PacketSpec.Describe(PacketSpec.Parse("ext hop,hop,hop,hop,hop,hop,hop,hop,hop udp [2001:db8::1]:1 -> [2001:db8::2]:2").Build()));
    }

    [Fact]
    public void DescribeTakesAnyBytes()
    {
        // pcap input is arbitrary: every spec-built frame cut at every length, and with random bytes changed.
        var rng = new Random(7);
        foreach (var row in Forms)
        {
            byte[] frame = PacketSpec.Parse((string)row[1]).Build();
            for (int n = 0; n <= frame.Length; n++)
                Assert.NotEmpty(PacketSpec.Describe(frame.AsSpan(0, n)));
            for (int i = 0; i < 200; i++)
            {
                byte[] mangled = (byte[])frame.Clone();
                for (int k = 0; k < 4; k++)
                    mangled[rng.Next(mangled.Length)] = (byte)rng.Next(256);
                Assert.NotEmpty(PacketSpec.Describe(mangled));
            }
        }
    }

    /// <summary>spec → the column of the mistake → what the message says.</summary>
    public static readonly TheoryData<string, int, string> Errors = new()
    {
        { "", 1, "empty packet spec; expected tcp, udp, icmp, icmpv6, proto, arp or ether (after any vlan, frag or ext)" },
        { "   ", 1, "empty packet spec; expected tcp, udp, icmp, icmpv6, proto, arp or ether (after any vlan, frag or ext)" },
        { "tpc 1.2.3.4:1 -> 1.2.3.5:2", 1, "unknown packet kind 'tpc'; expected tcp, udp, icmp, icmpv6, proto, arp or ether" },
        { "tcp 198.51.100.7: -> 192.0.2.10:22", 18, "expected a port after ':'" },
        { "tcp 198.51.100.7 -> 192.0.2.10:22", 17, "expected ':' and a port after 198.51.100.7 (ports are required for tcp and udp)" },
        { "tcp 1.2.3.4:70000 -> 1.2.3.5:1", 13, "port 70000 is out of range (0-65535)" },
        { "tcp 1.2.3.4:ssh -> 1.2.3.5:1", 13, "expected a port (0-65535) after ':', found 'ssh'" },
        { "udp 2001:db8::1:53 -> [2001:db8::2]:53", 5, "an IPv6 address with a port needs brackets: [2001:db8::1]:53" },
        { "udp [2001:db8::1:53 -> [2001:db8::2]:53", 20, "expected ']' after the IPv6 address" },
        { "udp [2001:db8::1] -> [2001:db8::2]:53", 18, "expected ':' and a port after [2001:db8::1]" },
        { "udp [1.2.3.4]:5 -> 1.2.3.5:6", 6, "brackets are for IPv6 addresses; write 1.2.3.4 without them" },
        { "tcp 1.2.3.4:1 1.2.3.5:2", 15, "expected '->' between source and destination, found '1.2.3.5:2'" },
        { "tcp 1.2.3.4:1 ->", 17, "expected a destination address, found the end of the spec" },
        { "tcp 1.2.3.4:1 -> [2001:db8::1]:2", 18, "2001:db8::1 is IPv6 but the source 1.2.3.4 is IPv4" },
        { "tcp 1.2.3.256:1 -> 1.2.3.5:2", 5, "'1.2.3.256' is not an IPv4 or IPv6 address" },
        { "tcp 01.2.3.4:1 -> 1.2.3.5:2", 5, "'01.2.3.4' is not an IPv4 or IPv6 address" },
        { "icmp 1.2.3 -> 1.2.3.5", 6, "'1.2.3' is not an IPv4 or IPv6 address" },
        { "icmpv6 fe80::1%eth0 -> fe80::2", 8, "'fe80::1%eth0' is not an IPv6 address" },
        { "tcp 1.2.3.4:1 -> 1.2.3.5:2 sin", 28, "unexpected 'sin' after the packet; expected tcp flags (fin syn rst psh ack urg ece cwr, or none), len or trunc" },
        { "tcp 1.2.3.4:1 -> 1.2.3.5:2 syn none", 32, "'none' cannot be combined with other flags (col 28)" },
        { "tcp 1.2.3.4:1 -> 1.2.3.5:2 syn,len 4", 32, "expected a tcp flag (fin syn rst psh ack urg ece cwr) after ',', found 'len'" },
        { "tcp 1.2.3.4:1 -> 1.2.3.5:2 syn,", 32, "expected a tcp flag (fin syn rst psh ack urg ece cwr) after ',', found the end of the spec" },
        { "tcp 1.2.3.4:1 -> 1.2.3.5:2 syn ack syn", 36, "tcp flag 'syn' given twice" },
        { "vlan 5000 tcp 1.2.3.4:1 -> 1.2.3.5:2", 6, "VLAN id 5000 is out of range (0-4095)" },
        { "vlan tcp 1.2.3.4:1 -> 1.2.3.5:2", 6, "expected a VLAN id after 'vlan', found 'tcp'" },
        { "frag 100 tcp 1.2.3.4:1 -> 1.2.3.5:2", 6, "fragment offset 100 is not a multiple of 8 bytes (IP counts it in 8-byte units)" },
        { "frag 65536 tcp 1.2.3.4:1 -> 1.2.3.5:2", 6, "fragment offset in bytes 65536 is out of range (0-65528)" },
        { "frag frag tcp 1.2.3.4:1 -> 1.2.3.5:2", 6, "frag given twice (first at col 1)" },
        { "frag arp 1.2.3.4 -> 1.2.3.5", 1, "frag needs an IP packet, not arp" },
        { "ext hop udp 1.2.3.4:1 -> 1.2.3.5:2", 1, "ext (IPv6 extension headers) needs an IPv6 packet" },
        { "ext frag udp [::1]:1 -> [::2]:2", 5, "a fragment header is written with the frag prefix, not in ext" },
        { "ext hop,bogus udp [::1]:1 -> [::2]:2", 9, "unknown IPv6 extension header 'bogus'; expected hop, route, dest or ah" },
        { "icmp 1.2.3.4 -> 1.2.3.5 type 300", 30, "ICMP type 300 is out of range (0-255)" },
        { "icmp 1.2.3.4 -> 1.2.3.5 type", 29, "expected an ICMP type after 'type', found the end of the spec" },
        { "icmp 1.2.3.4 -> 1.2.3.5 type 8 type 0", 32, "type given twice (first at col 25)" },
        { "udp 1.2.3.4:1 -> 1.2.3.5:2 syn", 28, "unexpected 'syn' after the packet; expected len or trunc" },
        { "udp 1.2.3.4:1 -> 1.2.3.5:2 len 1 len 2", 34, "len given twice (first at col 28)" },
        { "udp 1.2.3.4:1 -> 1.2.3.5:2 len 70000", 32, "payload length in bytes 70000 is out of range (0-65535)" },
        { "udp 1.2.3.4:1 -> 1.2.3.5:2 len 65508", 32, "len 65508 is too long: at most 65507 payload bytes fit this packet's length field" },
        { "udp [::1]:1 -> [::2]:2 len 65528", 28, "len 65528 is too long: at most 65527 payload bytes fit this packet's length field" },
        { "udp 1.2.3.4:1 -> 1.2.3.5:2 len -1", 32, "expected a payload length in bytes after 'len', found '-1'" },
        { "udp 1.2.3.4:1 -> 1.2.3.5:2 vlan 5", 28, "unexpected 'vlan' after the packet; expected len or trunc (vlan goes before the packet kind)" },
        { "udp 1.2.3.4:1 -> 1.2.3.5:2 , len 3", 28, "unexpected ',' after the packet; expected len or trunc" },
        { "arp 1.2.3.4 -> 1.2.3.5 len 4", 24, "len does not apply to arp (the message is 28 bytes)" },
        { "arp 2001:db8::1 -> 2001:db8::2", 5, "arp takes IPv4 addresses (IPv6 uses ICMPv6 neighbour discovery: icmpv6 ... type 135)" },
        { "ether 0x123456", 7, "EtherType 0x123456 is not a 16-bit hex number (0x0000-0xffff)" },
        { "ether", 6, "expected an EtherType (0x88cc or decimal) after 'ether', found the end of the spec" },
        { "proto 300 1.2.3.4 -> 1.2.3.5", 7, "IP protocol 300 is out of range (0-255)" },
        { "proto gre 1.2.3.4 -> 1.2.3.5", 7, "expected an IP protocol (0-255, tcp, udp, icmp or icmpv6) after 'proto', found 'gre'" },
    };

    [Theory]
    [MemberData(nameof(Errors))]
    public void ErrorsSayWhere(string spec, int column, string message)
    {
        var e = Assert.Throws<PacketSpecException>(() => PacketSpec.Parse(spec));
        Assert.Equal(message, e.Reason);
        Assert.Equal(column, e.Column);
        Assert.Equal($"col {column}: {message}", e.Message);
        Assert.False(PacketSpec.TryParse(spec, out _, out var again));
        Assert.Equal(e.Message, again!.Message);
    }

    [Fact]
    public void UnderlineLengthCoversTheOffendingText()
    {
        var e = Assert.Throws<PacketSpecException>(() => PacketSpec.Parse("tcp 1.2.3.4:70000 -> 1.2.3.5:1"));
        Assert.Equal(5, e.Length);   // "70000"
        e = Assert.Throws<PacketSpecException>(() => PacketSpec.Parse("tcp 198.51.100.7: -> 192.0.2.10:22"));
        Assert.Equal(1, e.Length);
    }

    /// <summary>Spec-built frames as an independent decoder reads them.</summary>
    public static readonly TheoryData<string, string[]> TcpdumpCases = new()
    {
        { "tcp 198.51.100.7:40000 -> 192.0.2.10:22 syn,ack",
            ["ethertype IPv4 (0x0800), length 54", "198.51.100.7.40000 > 192.0.2.10.22: Flags [S.], cksum 0x", "(correct)"] },
        { "vlan 10 vlan 20 udp 198.51.100.7:5000 -> 192.0.2.10:6000 len 12",
            ["ethertype 802.1Q-QinQ (0x88a8), length 62: vlan 10, p 0, ethertype 802.1Q (0x8100), vlan 20, p 0, ethertype IPv4",
             "198.51.100.7.5000 > 192.0.2.10.6000: [udp sum ok] UDP, length 12"] },
        { "frag tcp 198.51.100.7:40000 -> 192.0.2.10:22", ["offset 1480, flags [none], proto TCP (6)", "198.51.100.7 > 192.0.2.10: ip-proto-6"] },
        { "frag 0 udp 198.51.100.7:5000 -> 192.0.2.10:6000 len 8", ["offset 0, flags [+], proto UDP (17)", "198.51.100.7.5000 > 192.0.2.10.6000: UDP, length 8"] },
        { "ext hop,dest frag 800 udp [2001:db8::1]:7 -> [2001:db8::2]:9", ["HBH (padn) DSTOPT (padn) frag (0x00001234:800|8)"] },
        { "icmpv6 2001:db8::1 -> 2001:db8::2", ["[icmp6 sum ok] ICMP6, echo request, id 1, seq 1"] },
        { "icmp 192.0.2.1 -> 192.0.2.2 type 13 len 12", ["192.0.2.1 > 192.0.2.2: ICMP time stamp query id 1 seq 1"] },
        { "proto 47 192.0.2.1 -> 192.0.2.2 len 4", ["proto GRE (47), length 24"] },
        { "arp 192.0.2.1 -> 192.0.2.2", ["ethertype ARP (0x0806), length 42", "Request who-has 192.0.2.2 tell 192.0.2.1"] },
        { "vlan 100 ether 0x88cc len 20", ["ethertype 802.1Q (0x8100), length 38: vlan 100, p 0, ethertype LLDP (0x88cc)"] },
        { "tcp [2001:db8::1]:1 -> [2001:db8::2]:23 ack len 4", ["2001:db8::1.1 > 2001:db8::2.23: Flags [.], cksum 0x", "(correct)"] },
    };

    [Theory]
    [MemberData(nameof(TcpdumpCases))]
    public void DecodesInTcpdumpAsMeant(string spec, string[] expected)
    {
        string decoded = Tcpdump.Decode(PacketSpec.Parse(spec).Build(), "-nn -vv -e");
        foreach (string e in expected)
            Assert.True(decoded.Contains(e, StringComparison.Ordinal), $"'{e}' not in:\n{decoded}");
    }
}
