using System.Net;
using System.Net.NetworkInformation;
using System.Net.Sockets;
using PacketDotNet;
using PacketDotNet.Utils;

namespace Fw.Packets;

/// <summary>
/// An Ethernet frame described layer by layer, built into bytes by <see cref="Build"/>:
/// <code>Frame.Tcp("192.0.2.1", "198.18.0.1", 40000, 22, TcpFlags.Syn).WithVlan(100).Build()</code>
/// Immutable: every <c>With…</c> returns a new frame. Lengths, protocol numbers and checksums are
/// computed unless a header's override says otherwise, so a wrong frame is one explicit field away.
/// PacketDotNet builds the well-formed frame (<see cref="ToPacket"/>); <see cref="FrameEdits"/> is the one place
/// that writes, as bytes, what it cannot express.
/// </summary>
public sealed record Frame
{
    public string DstMac { get; init; } = "02:00:00:00:00:02";
    public string SrcMac { get; init; } = "02:00:00:00:00:01";
    /// <summary>VLAN tags, outermost first.</summary>
    public IReadOnlyList<VlanTag> Vlans { get; init; } = [];
    /// <summary>The EtherType after the tags; null: that of <see cref="Network"/>.</summary>
    public ushort? EtherType { get; init; }
    /// <summary>null: the bytes after the EtherType are <see cref="Transport"/> and <see cref="Payload"/> as they are.</summary>
    public NetworkHeader? Network { get; init; }
    public TransportHeader? Transport { get; init; }
    public byte[] Payload { get; init; } = [];
    /// <summary>Cut the built frame to this many bytes (it may be any length, 0 included).</summary>
    public int? TruncateTo { get; init; }

    // ---- Starting points -------------------------------------------------------------------

    public static Frame Ip(IPAddress src, IPAddress dst, byte protocol, byte[]? payload = null) =>
        new() { Network = NetworkFor(src, dst, protocol), Payload = payload ?? [] };

    public static Frame Ip(string src, string dst, byte protocol, byte[]? payload = null) =>
        Ip(IPAddress.Parse(src), IPAddress.Parse(dst), protocol, payload);

    public static Frame Tcp(IPAddress src, IPAddress dst, ushort sport, ushort dport, TcpFlags flags = TcpFlags.Syn) =>
        new() { Network = NetworkFor(src, dst, null), Transport = new TcpHeader(sport, dport, flags) };

    public static Frame Tcp(string src, string dst, ushort sport, ushort dport, TcpFlags flags = TcpFlags.Syn) =>
        Tcp(IPAddress.Parse(src), IPAddress.Parse(dst), sport, dport, flags);

    public static Frame Udp(IPAddress src, IPAddress dst, ushort sport, ushort dport) =>
        new() { Network = NetworkFor(src, dst, null), Transport = new UdpHeader(sport, dport) };

    public static Frame Udp(string src, string dst, ushort sport, ushort dport) =>
        Udp(IPAddress.Parse(src), IPAddress.Parse(dst), sport, dport);

    /// <summary>ICMP (protocol 1), whatever the addresses' family: in IPv6 that is an oddity on purpose.</summary>
    public static Frame Icmp(IPAddress src, IPAddress dst, byte type, byte code = 0) =>
        new() { Network = NetworkFor(src, dst, null), Transport = new IcmpHeader(type, code, V6: false) };

    public static Frame Icmp(string src, string dst, byte type, byte code = 0) =>
        Icmp(IPAddress.Parse(src), IPAddress.Parse(dst), type, code);

    /// <summary>ICMPv6 (protocol 58), whatever the addresses' family: in IPv4 that is an oddity on purpose.</summary>
    public static Frame Icmpv6(IPAddress src, IPAddress dst, byte type, byte code = 0) =>
        new() { Network = NetworkFor(src, dst, null), Transport = new IcmpHeader(type, code, V6: true) };

    public static Frame Icmpv6(string src, string dst, byte type, byte code = 0) =>
        Icmpv6(IPAddress.Parse(src), IPAddress.Parse(dst), type, code);

    /// <summary>Any EtherType followed by raw bytes (LLDP, a made-up type, IPv4 bytes under a wrong type...).</summary>
    public static Frame Raw(ushort etherType, byte[] payload) => new() { EtherType = etherType, Payload = payload };

    /// <summary>An ARP request for Ethernet/IPv4 (RFC 826), 28 bytes after the EtherType (PacketDotNet's <see cref="ArpPacket"/>).</summary>
    public static Frame Arp(string senderIp, string targetIp)
    {
        var arp = new ArpPacket(ArpOperation.Request, new PhysicalAddress(new byte[6]), IPAddress.Parse(targetIp),
            new PhysicalAddress(ParseMac("02:00:00:00:00:01")), IPAddress.Parse(senderIp));
        return new Frame { EtherType = EtherTypes.Arp, DstMac = "ff:ff:ff:ff:ff:ff", Payload = arp.Bytes };
    }

    static NetworkHeader NetworkFor(IPAddress src, IPAddress dst, byte? protocol)
    {
        if (src.AddressFamily != dst.AddressFamily)
            throw new ArgumentException($"{src} and {dst} are of different families");
        return src.AddressFamily == AddressFamily.InterNetwork
            ? new Ipv4Header(src, dst) { Protocol = protocol }
            : new Ipv6Header(src, dst) { Protocol = protocol };
    }

    // ---- Changes -----------------------------------------------------------------------------

    /// <summary>Adds a tag inside those already there (the first call gives the outer tag).</summary>
    public Frame WithVlan(ushort id, ushort tpid = EtherTypes.Vlan) =>
        this with { Vlans = [.. Vlans, new VlanTag(id, tpid)] };

    /// <summary>802.1ad: an outer 0x88a8 tag and an inner 0x8100 tag.</summary>
    public Frame WithQinQ(ushort outer, ushort inner) => WithVlan(outer, EtherTypes.QinQ).WithVlan(inner);

    public Frame WithEtherType(ushort etherType) => this with { EtherType = etherType };

    public Frame WithPayload(byte[] payload) => this with { Payload = payload };

    /// <summary>A payload of <paramref name="length"/> counting bytes (0, 1, 2, ...).</summary>
    public Frame WithPayload(int length) => this with { Payload = Enumerable.Range(0, length).Select(i => (byte)i).ToArray() };

    public Frame WithIpv4(Func<Ipv4Header, Ipv4Header> change) =>
        this with { Network = change(Network as Ipv4Header ?? throw new InvalidOperationException("not an IPv4 frame")) };

    public Frame WithIpv6(Func<Ipv6Header, Ipv6Header> change) =>
        this with { Network = change(Network as Ipv6Header ?? throw new InvalidOperationException("not an IPv6 frame")) };

    public Frame WithTcp(Func<TcpHeader, TcpHeader> change) =>
        this with { Transport = change(Transport as TcpHeader ?? throw new InvalidOperationException("not a TCP frame")) };

    public Frame WithUdp(Func<UdpHeader, UdpHeader> change) =>
        this with { Transport = change(Transport as UdpHeader ?? throw new InvalidOperationException("not a UDP frame")) };

    public Frame WithIcmp(Func<IcmpHeader, IcmpHeader> change) =>
        this with { Transport = change(Transport as IcmpHeader ?? throw new InvalidOperationException("not an ICMP frame")) };

    public Frame WithIpOptions(byte[] options) => WithIpv4(h => h with { Options = options });

    /// <summary>Appends IPv6 extension headers to the end of the chain.</summary>
    public Frame WithExtensions(params Ipv6Ext[] extensions) =>
        WithIpv6(h => h with { Extensions = [.. h.Extensions, .. extensions] });

    /// <summary>
    /// Marks the packet a fragment at <paramref name="offset"/> (8-byte units): IPv4 sets the offset and MF;
    /// IPv6 appends a fragment header to the chain. The transport header stays in the bytes: in a non-first
    /// fragment it is plain data that a correct parser must not read.
    /// </summary>
    public Frame AsFragment(ushort offset, bool more = false) => Network switch
    {
        Ipv4Header => WithIpv4(h => h with { FragmentOffset = offset, MoreFragments = more }),
        Ipv6Header => WithExtensions(Ipv6Ext.Fragment(offset, more)),
        _ => throw new InvalidOperationException("not an IP frame"),
    };

    public Frame Truncated(int length) => this with { TruncateTo = length };

    // ---- Bytes -------------------------------------------------------------------------------

    public byte[] Build() => Layout().Bytes;

    /// <summary>
    /// The built frame and where each layer starts in it (-1 where a layer is absent), before truncation.
    /// PacketDotNet builds the frame as far as it can express it (<see cref="ToPacket"/>: every length and
    /// checksum computed), then <see cref="FrameEdits"/> writes what it cannot: the IPv6 extension chain, the
    /// headers' override fields, truncation.
    /// </summary>
    public FrameLayout Layout() => FrameEdits.Apply(this, ToPacket().Bytes);

    /// <summary>
    /// The frame as PacketDotNet builds it: Ethernet, the VLAN tags, IPv4 (options included) or IPv6 without its
    /// extension chain, TCP (options included), UDP, ICMP or ICMPv6 with the payload, or the payload alone under
    /// any EtherType; lengths and checksums PacketDotNet's, none of the headers' override fields applied.
    /// </summary>
    public EthernetPacket ToPacket()
    {
        Packet? transport = Transport switch
        {
            null => null,
            _ when Network is null => throw new InvalidOperationException("a transport header needs a network header"),
            TcpHeader t => Tcp(t),
            UdpHeader u => new UdpPacket(u.SrcPort, u.DstPort) { PayloadData = Payload },
            IcmpHeader { V6: false } i => Icmp(i),
            IcmpHeader i => Icmpv6(i),
            _ => throw new InvalidOperationException($"no builder for {Transport.GetType().Name}"),
        };
        IPPacket? ip = Network switch
        {
            null => null,
            Ipv4Header v4 => Ipv4(v4, transport),
            Ipv6Header v6 => Ipv6(v6, transport),
            _ => throw new InvalidOperationException($"no builder for {Network.GetType().Name}"),
        };

        var ethernet = new EthernetPacket(new PhysicalAddress(ParseMac(SrcMac)), new PhysicalAddress(ParseMac(DstMac)), EthernetType.None);
        // Each layer's type is set after its payload: PacketDotNet parses the (empty) payload of a layer whose
        // type it knows as soon as the payload is touched.
        Packet inner = ethernet;
        ushort type = EtherType ?? Network switch
        {
            Ipv4Header => EtherTypes.Ipv4,
            Ipv6Header => EtherTypes.Ipv6,
            _ => throw new InvalidOperationException("a frame without a network header needs an EtherType"),
        };
        var types = Vlans.Select(v => v.Tpid).Append(type).ToList();
        for (int i = 0; i < Vlans.Count; i++)
        {
            var tag = new Ieee8021QPacket(new ByteArraySegment(new byte[4]))
            {
                VlanIdentifier = Vlans[i].Id,
                PriorityControlPoint = (IeeeP8021PPriority)(Vlans[i].Priority & 7),
            };
            inner.PayloadPacket = tag;
            SetType(inner, types[i]);
            inner = tag;
        }
        if (ip is null)
            inner.PayloadData = Payload;
        else
            inner.PayloadPacket = ip;
        SetType(inner, types[^1]);
        return ethernet;
    }

    static void SetType(Packet layer, ushort type)
    {
        if (layer is EthernetPacket e)
            e.Type = (EthernetType)type;
        else
            ((Ieee8021QPacket)layer).Type = (EthernetType)type;
    }

    IPv4Packet Ipv4(Ipv4Header h, Packet? transport)
    {
        RequireFamily(h.Src, h.Dst, AddressFamily.InterNetwork, "IPv4");
        int headerLength = h.HeaderLength;
        if (headerLength > 60)
            throw new ArgumentException("IPv4 options past 40 bytes cannot be described by IHL");
        IPv4Packet ip;
        if (headerLength == 20)
        {
            ip = new IPv4Packet(h.Src, h.Dst);
        }
        else
        {
            // PacketDotNet has no IPv4 options: its parsing constructor takes a header of any IHL, so it is handed
            // a zeroed one whose IHL counts the options, with the options in place.
            var header = new byte[headerLength];
            header[0] = (byte)(0x40 | headerLength / 4);
            h.Options.CopyTo(header, 20);
            ip = new IPv4Packet(new ByteArraySegment(header)) { SourceAddress = h.Src, DestinationAddress = h.Dst };
        }
        ip.TypeOfService = h.Tos;
        ip.Id = h.Id;
        ip.TimeToLive = h.Ttl;
        Attach(ip, transport, h.Protocol ?? 253); // 253: RFC 3692 experimentation
        // The fragment fields after the transport's checksum: PacketDotNet parses no transport in a non-first fragment.
        ip.FragmentFlags = (h.DontFragment ? 2 : 0) | (h.MoreFragments ? 1 : 0);
        ip.FragmentOffset = h.FragmentOffset;
        ip.UpdateCalculatedValues();
        ip.UpdateIPChecksum();
        return ip;
    }

    IPv6Packet Ipv6(Ipv6Header h, Packet? transport)
    {
        RequireFamily(h.Src, h.Dst, AddressFamily.InterNetworkV6, "IPv6");
        var ip = new IPv6Packet(h.Src, h.Dst)
        {
            TrafficClass = h.TrafficClass,
            FlowLabel = (int)(h.FlowLabel & 0xfffff),
            HopLimit = h.HopLimit,
        };
        Attach(ip, transport, h.Protocol ?? IpProtocols.NoNext);
        return ip;
    }

    TcpPacket Tcp(TcpHeader h)
    {
        int headerLength = h.HeaderLength;
        if (headerLength > 60)
            throw new ArgumentException("TCP options past 40 bytes cannot be described by the data offset");
        TcpPacket tcp;
        if (headerLength == 20)
        {
            tcp = new TcpPacket(h.SrcPort, h.DstPort);
        }
        else
        {
            // PacketDotNet sizes a TCP header by its data offset only when it parses one: hand its parsing
            // constructor a zeroed header whose data offset counts the options, then write them (Options).
            var header = new byte[headerLength];
            header[12] = (byte)(headerLength / 4 << 4);
            tcp = new TcpPacket(new ByteArraySegment(header)) { SourcePort = h.SrcPort, DestinationPort = h.DstPort };
            var options = new byte[headerLength - 20];
            h.Options.CopyTo(options, 0);
            tcp.Options = options;
        }
        tcp.SequenceNumber = h.Sequence;
        tcp.AcknowledgmentNumber = h.Acknowledgment;
        tcp.Flags = (ushort)h.Flags;
        tcp.WindowSize = h.Window;
        tcp.UrgentPointer = h.Urgent;
        tcp.PayloadData = Payload;
        return tcp;
    }

    IcmpV4Packet Icmp(IcmpHeader h) => new(new ByteArraySegment(new byte[8]))
    {
        TypeCode = (IcmpV4TypeCode)(h.Type << 8 | h.Code),
        Id = (ushort)(h.Rest >> 16),
        Sequence = (ushort)h.Rest,
        PayloadData = Payload,
    };

    /// <summary>PacketDotNet's ICMPv6 header is type, code and checksum; the rest of the 8 bytes (echo: identifier and sequence) is its payload.</summary>
    IcmpV6Packet Icmpv6(IcmpHeader h)
    {
        var icmp = new IcmpV6Packet(new ByteArraySegment(new byte[4]));
        var body = new byte[4 + Payload.Length];
        Bytes.WriteBe32(body, 0, h.Rest);
        Payload.CopyTo(body, 4);
        icmp.PayloadData = body;   // before the type: PacketDotNet parses the body of a neighbour discovery type when it is first read
        icmp.Type = (IcmpV6Type)h.Type;
        icmp.Code = h.Code;
        return icmp;
    }

    static void RequireFamily(IPAddress src, IPAddress dst, AddressFamily family, string name)
    {
        if (src.AddressFamily != family || dst.AddressFamily != family)
            throw new ArgumentException($"{name} header needs {name} addresses");
    }

    /// <summary>
    /// The transport (or the payload, under <paramref name="protocol"/>) into the IP packet, checksummed against
    /// it. The protocol after the payload: PacketDotNet parses a payload by the protocol it finds when the payload is first touched.
    /// </summary>
    void Attach(IPPacket ip, Packet? transport, byte protocol)
    {
        switch (transport)
        {
            case null:
                ip.PayloadData = Payload;
                ip.PayloadLength = (ushort)Payload.Length;
                ip.Protocol = (PacketDotNet.ProtocolType)protocol;
                break;
            case TcpPacket tcp:
                ip.PayloadPacket = tcp;
                tcp.UpdateTcpChecksum();
                break;
            case UdpPacket udp:
                ip.PayloadPacket = udp;
                udp.UpdateUdpChecksum();
                if (udp.Checksum == 0)
                    udp.Checksum = 0xffff; // RFC 768: a computed 0 is sent as all ones, 0 means "no checksum"
                break;
            case IcmpV4Packet icmp:
                ip.PayloadPacket = icmp;
                icmp.UpdateIcmpChecksum();
                break;
            case IcmpV6Packet icmp:
                ip.PayloadPacket = icmp;
                // PacketDotNet sums an ICMPv6 message from its parent's buffer, which for a packet it built holds
                // the IP header alone: checksum a parsed copy (one buffer) and take its result. Inside IPv4 (an
                // oddity) there is no pseudo-header, as for ICMP.
                var copy = ip is IPv6Packet ? (IPPacket)new IPv6Packet(new ByteArraySegment(ip.Bytes)) : new IPv4Packet(new ByteArraySegment(ip.Bytes));
                var parsed = copy.Extract<IcmpV6Packet>();
                parsed.UpdateIcmpChecksum();
                icmp.Checksum = parsed.Checksum;
                break;
        }
    }

    public static byte[] ParseMac(string mac)
    {
        var parts = mac.Split(':');
        if (parts.Length != 6)
            throw new FormatException($"not a MAC address: {mac}");
        return parts.Select(p => Convert.ToByte(p, 16)).ToArray();
    }
}

/// <summary>
/// A built frame (truncated if asked) and where its layers start in the untruncated bytes:
/// <paramref name="L2End"/> is the end of the Ethernet header and tags; <paramref name="NetworkOffset"/> and
/// <paramref name="TransportOffset"/> are -1 when the frame has no such layer.
/// </summary>
public sealed record FrameLayout(byte[] Bytes, int FullLength, int L2End, int NetworkOffset, int TransportOffset, int PayloadOffset);
