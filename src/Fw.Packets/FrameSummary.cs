using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;
using PacketDotNet;
using PacketDotNet.Utils;

namespace Fw.Packets;

/// <summary>
/// One line per frame, as tcpdump -n writes it, for logs: <c>IP 198.51.100.7.40000 &gt; 192.0.2.10.22: tcp SYN</c>,
/// decoded by PacketDotNet. Any bytes give a line, never an exception: a header the frame cuts short, or one
/// PacketDotNet cannot decode, is said in brackets where decoding stopped.
/// <code>
/// vlan 100, IP 198.51.100.7.123 &gt; 192.0.2.10.40000: udp, length 48
/// IP6 2001:db8::1.7 &gt; 2001:db8::2.9: ext hop,dest, frag 0+, udp
/// IP 198.51.100.7 &gt; 192.0.2.10: frag 1480, tcp, length 20          (a non-first fragment: no ports)
/// IP6 2001:db8::1 &gt; 2001:db8::2: icmp6 neighbor solicitation, length 16
/// ARP who-has 192.0.2.2 tell 192.0.2.1
/// ethertype 0x88cc (Lldp), length 20
/// IP 192.0.2.1 &gt; 198.18.0.1: tcp [truncated tcp header: 6 of 20 bytes]
/// </code>
/// Lengths are payload bytes after the last header read, as the IP length field says (a log's capture may be cut
/// short of it).
/// PacketDotNet decodes Ethernet, the VLAN tags (0x8100, 0x88a8 and 0x9100, as tcpdump), ARP, IPv4, and the TCP,
/// UDP, ICMP and ICMPv6 headers. What this adds: each header is checked to lie in the frame before it is read
/// (PacketDotNet reads a cut header past its end, or throws), and the IPv6 extension chain is walked here, by
/// RFC 8200: PacketDotNet 1.4.8 reads every header of a chain at the first one's offset, sizes AH in 8-byte units
/// instead of 4, counts protocols 98, 135, 139, 140, 253 and 254 as extension headers, and throws on a chain the
/// frame cuts (DecoderCrossCheckTests lists these). The transport after the chain is PacketDotNet's again.
/// </summary>
public static class FrameSummary
{
    public static string Describe(ReadOnlySpan<byte> frame)
    {
        var s = new StringBuilder();
        try
        {
            Decode(frame.ToArray(), s);
        }
        catch (Exception e) when (e is IndexOutOfRangeException or ArgumentException or InvalidOperationException
                                      or InvalidCastException or NullReferenceException or NotImplementedException)
        {
            s.Append($"[not decodable: {e.Message}]");
        }
        return s.ToString();
    }

    static void Decode(byte[] b, StringBuilder s)
    {
        if (b.Length < 14)
        {
            s.Append($"[truncated Ethernet header: {b.Length} of 14 bytes]");
            return;
        }
        Packet layer = new EthernetPacket(new ByteArraySegment(b));
        var type = ((EthernetPacket)layer).Type;
        int at = 14;
        while (type is EthernetType.VLanTaggedFrame or EthernetType.ProviderBridging or EthernetType.QInQ)
        {
            if (b.Length < at + 4)
            {
                s.Append($"[truncated VLAN tag: {b.Length - at} of 4 bytes]");
                return;
            }
            var tag = (Ieee8021QPacket)layer.PayloadPacket;
            s.Append("vlan ").Append(tag.VlanIdentifier).Append(", ");
            type = tag.Type;
            layer = tag;
            at += 4;
        }

        switch (type)
        {
            case EthernetType.IPv4:
                Ipv4(b, at, s);
                break;
            case EthernetType.IPv6:
                Ipv6(b, at, s);
                break;
            case EthernetType.Arp:
                Arp(b, at, layer, s);
                break;
            default:
                s.Append("ethertype 0x").Append(((ushort)type).ToString("x4", CultureInfo.InvariantCulture));
                if (Enum.IsDefined(type) && type != EthernetType.None)
                    s.Append(" (").Append(type).Append(')');
                if (b.Length > at)
                    s.Append(", length ").Append(b.Length - at);
                break;
        }
    }

    static void Arp(byte[] b, int at, Packet layer, StringBuilder s)
    {
        s.Append("ARP");
        if (b.Length < at + 8)
        {
            s.Append($" [truncated header: {b.Length - at} of 8 bytes]");
            return;
        }
        var arp = (ArpPacket)layer.PayloadPacket;
        if (arp.HardwareAddressType != LinkLayers.Ethernet || arp.ProtocolAddressType != EthernetType.IPv4
            || arp.HardwareAddressLength != 6 || arp.ProtocolAddressLength != 4)
        {
            s.Append($", hardware {(int)arp.HardwareAddressType} ({arp.HardwareAddressLength} bytes), protocol 0x{(ushort)arp.ProtocolAddressType:x4} ({arp.ProtocolAddressLength} bytes)");
            return;
        }
        if (b.Length < at + 28)
        {
            s.Append($" [truncated message: {b.Length - at} of 28 bytes]");
            return;
        }
        s.Append(arp.Operation switch
        {
            ArpOperation.Request => $" who-has {arp.TargetProtocolAddress} tell {arp.SenderProtocolAddress}",
            ArpOperation.Response => $" reply {arp.SenderProtocolAddress} is-at {Mac(arp.SenderHardwareAddress.GetAddressBytes())}",
            _ => $" operation {(int)arp.Operation}, {arp.SenderProtocolAddress} > {arp.TargetProtocolAddress}",
        });
    }

    static void Ipv4(byte[] b, int at, StringBuilder s)
    {
        s.Append("IP ");
        if (b.Length < at + 20)
        {
            s.Append($"[truncated header: {b.Length - at} of 20 bytes]");
            return;
        }
        int version = b[at] >> 4, ihl = b[at] & 0xf;
        if (version != 4)
        {
            s.Append($"[version {version} under the IPv4 EtherType]");
            return;
        }
        string? note = null;
        int totalLength = Bytes.ReadBe16(b, at + 2);
        if (totalLength is > 0 and < 20)
        {
            // PacketDotNet refuses an IPv4 total length under 20 (the rules contract does not read it): decode
            // this copy with the length the frame holds, and say so.
            note = $"[bad total length {totalLength}]";
            Bytes.WriteBe16(b, at + 2, (ushort)Math.Min(65535, b.Length - at));
        }
        var ip = new IPv4Packet(new ByteArraySegment(b, at, b.Length - at));
        int l4 = at + ihl * 4;
        bool nonFirst = ip.FragmentOffset != 0;
        var transport = ihl < 5 || b.Length < l4 ? null : TransportAt(b, l4, (byte)ip.Protocol, nonFirst);
        AppendEndpoints(s, ip.SourceAddress, ip.DestinationAddress, transport);
        if (ihl < 5)
        {
            s.Append($"[bad IHL {ihl}]");
            return;
        }
        if (b.Length < l4)
        {
            s.Append($"[truncated header: IHL {ihl} is {ihl * 4} bytes, {b.Length - at} present]");
            return;
        }
        if (nonFirst || (ip.FragmentFlags & 1) != 0)
            s.Append("frag ").Append(ip.FragmentOffset * 8).Append((ip.FragmentFlags & 1) != 0 ? "+" : "").Append(", ");
        int end = at + Math.Max(ip.TotalLength, ihl * 4);   // as the header says, as tcpdump does: a capture may be cut
        Transport(b, l4, end, (byte)ip.Protocol, nonFirst, transport, s);
        if (note is not null)
            s.Append(' ').Append(note);
    }

    static void Ipv6(byte[] b, int at, StringBuilder s)
    {
        s.Append("IP6 ");
        if (b.Length < at + 40)
        {
            s.Append($"[truncated header: {b.Length - at} of 40 bytes]");
            return;
        }
        int version = b[at] >> 4;
        if (version != 6)
        {
            s.Append($"[version {version} under the IPv6 EtherType]");
            return;
        }
        var src = IPPacket.GetIPAddress(AddressFamily.InterNetworkV6, at + 8, b);
        var dst = IPPacket.GetIPAddress(AddressFamily.InterNetworkV6, at + 24, b);

        // The extension chain, by RFC 8200: hop-by-hop, routing, destination options ((len + 1) * 8 bytes), AH
        // ((len + 2) * 4), fragment (8; past a non-first fragment the rest is data).
        var names = new List<string>();
        string? fragment = null, problem = null;
        bool nonFirst = false;
        byte next = b[at + 6];
        int cur = at + 40;
        while (next is 0 or 43 or 60 or 51 or 44 && problem is null && !nonFirst)
        {
            int length = next switch { 44 => 8, 51 => b.Length >= cur + 2 ? (b[cur + 1] + 2) * 4 : 8, _ => b.Length >= cur + 2 ? (b[cur + 1] + 1) * 8 : 8 };
            if (b.Length < cur + length)
            {
                problem = $"[truncated extension header {next}: {b.Length - cur} of {length} bytes]";
                break;
            }
            if (next == 44)
            {
                int field = Bytes.ReadBe16(b, cur + 2);
                fragment = $"frag {(field >> 3) * 8}{((field & 1) != 0 ? "+" : "")}";
                nonFirst = field >> 3 != 0;
            }
            else
            {
                names.Add(next switch { 0 => "hop", 43 => "route", 60 => "dest", _ => "ah" });
            }
            next = b[cur];
            cur += length;
        }

        var transport = problem is null ? TransportAt(b, cur, next, nonFirst) : null;
        AppendEndpoints(s, src, dst, transport);
        if (names.Count > 0)
            s.Append("ext ").Append(string.Join(',', names)).Append(", ");
        if (fragment is not null)
            s.Append(fragment).Append(", ");
        if (problem is not null)
        {
            s.Append(problem);
            return;
        }
        int end = at + 40 + Bytes.ReadBe16(b, at + 4);   // as the header says: a capture may be cut
        Transport(b, cur, end, next, nonFirst, transport, s);
    }

    /// <summary>The transport header at <paramref name="at"/> as PacketDotNet decodes it, when it lies in the frame and is one of the four; else null.</summary>
    static Packet? TransportAt(byte[] b, int at, byte protocol, bool nonFirst)
    {
        int remaining = b.Length - at;
        if (nonFirst || remaining < 8)
            return null;
        var segment = new ByteArraySegment(b, at, remaining);
        return protocol switch
        {
            6 when remaining >= 20 => new TcpPacket(segment),
            17 => new UdpPacket(segment),
            1 => new IcmpV4Packet(segment),
            58 => new IcmpV6Packet(segment),
            _ => null,
        };
    }

    static void AppendEndpoints(StringBuilder s, IPAddress src, IPAddress dst, Packet? transport)
    {
        var ports = transport as TransportPacket;
        s.Append(src);
        if (ports is not null)
            s.Append('.').Append(ports.SourcePort);
        s.Append(" > ").Append(dst);
        if (ports is not null)
            s.Append('.').Append(ports.DestinationPort);
        s.Append(": ");
    }

    /// <summary>
    /// The transport part: its name and what PacketDotNet decoded of it (<paramref name="transport"/>, null for a
    /// non-first fragment, another protocol or a cut header), and the payload up to <paramref name="end"/>.
    /// </summary>
    static void Transport(byte[] b, int at, int end, byte protocol, bool nonFirst, Packet? transport, StringBuilder s)
    {
        string name = protocol switch { 6 => "tcp", 17 => "udp", 1 => "icmp", 58 => "icmp6", _ => $"proto {protocol}" };
        int header = protocol switch { 6 => 20, 17 or 1 or 58 => 8, _ => 0 };
        if (end < at)
            end = b.Length;   // a length field shorter than the headers: count what is there
        switch (transport)
        {
            case TcpPacket tcp:
                s.Append("tcp ").Append(Flags(tcp.Flags));
                AppendLength(s, end - at - Math.Clamp(tcp.DataOffset * 4, 20, b.Length - at));
                return;
            case UdpPacket:
                s.Append("udp");
                AppendLength(s, end - at - 8);
                return;
            case IcmpV4Packet icmp:
                s.Append("icmp ").Append(IcmpName(icmp));
                AppendLength(s, end - at - 8);
                return;
            case IcmpV6Packet icmp6:
                s.Append("icmp6 ").Append(Enum.IsDefined(icmp6.Type) ? Words(icmp6.Type.ToString()) : $"type {(int)icmp6.Type}");
                if (icmp6.Code != 0)
                    s.Append(", code ").Append(icmp6.Code);
                AppendLength(s, end - at - 8);
                return;
        }
        s.Append(name);
        if (header > 0 && !nonFirst && b.Length - at < header)
            s.Append($" [truncated {name} header: {Math.Max(0, b.Length - at)} of {header} bytes]");
        else
            AppendLength(s, end - at);
    }

    static void AppendLength(StringBuilder s, int length)
    {
        if (length > 0)
            s.Append(", length ").Append(length);
    }

    /// <summary>PacketDotNet's name of the type and code ("echo request", "unreachable port"), else the numbers.</summary>
    static string IcmpName(IcmpV4Packet icmp)
    {
        var tc = icmp.TypeCode;
        int type = (ushort)tc >> 8, code = (ushort)tc & 0xff;
        if (Enum.IsDefined(tc) && !tc.ToString().StartsWith("Unassigned", StringComparison.Ordinal))
            return Words(tc.ToString());
        return code == 0 ? $"type {type}" : $"type {type}, code {code}";
    }

    static readonly string[] FlagNames = ["FIN", "SYN", "RST", "PSH", "ACK", "URG", "ECE", "CWR"];

    static string Flags(ushort flags)
    {
        var set = Enumerable.Range(0, 8).Where(i => (flags & 1 << i) != 0).Select(i => FlagNames[i]).ToList();
        return set.Count == 0 ? "[none]" : string.Join(',', set);
    }

    /// <summary>"NeighborSolicitation" → "neighbor solicitation", "ICMPNodeInformationQuery" → "icmp node information query".</summary>
    static string Words(string name)
    {
        var s = new StringBuilder();
        for (int i = 0; i < name.Length; i++)
        {
            char c = name[i];
            bool boundary = i > 0 && char.IsUpper(c)
                && (char.IsLower(name[i - 1]) || i + 1 < name.Length && char.IsLower(name[i + 1]));
            if (boundary)
                s.Append(' ');
            s.Append(char.ToLowerInvariant(c));
        }
        return s.ToString();
    }

    static string Mac(byte[] b) => string.Join(':', b.Select(x => x.ToString("x2", CultureInfo.InvariantCulture)));
}
