using System.Net;
using System.Net.Sockets;

namespace Fw.Packets;

/// <summary>
/// An Ethernet frame described layer by layer, built into bytes by <see cref="Build"/>:
/// <code>Frame.Tcp("192.0.2.1", "198.18.0.1", 40000, 22, TcpFlags.Syn).WithVlan(100).Build()</code>
/// Immutable: every <c>With…</c> returns a new frame. Lengths, protocol numbers and checksums are
/// computed unless a header's override says otherwise, so a wrong frame is one explicit field away.
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

    /// <summary>An ARP request for Ethernet/IPv4 (RFC 826), 28 bytes after the EtherType.</summary>
    public static Frame Arp(string senderIp, string targetIp)
    {
        var p = new byte[28];
        Bytes.WriteBe16(p, 0, 1);              // hardware: Ethernet
        Bytes.WriteBe16(p, 2, EtherTypes.Ipv4); // protocol
        p[4] = 6;                               // hardware address length
        p[5] = 4;                               // protocol address length
        Bytes.WriteBe16(p, 6, 1);               // request
        ParseMac("02:00:00:00:00:01").CopyTo(p, 8);
        IPAddress.Parse(senderIp).GetAddressBytes().CopyTo(p, 14);
        IPAddress.Parse(targetIp).GetAddressBytes().CopyTo(p, 24);
        return new Frame { EtherType = EtherTypes.Arp, DstMac = "ff:ff:ff:ff:ff:ff", Payload = p };
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

    /// <summary>The built frame and where each layer starts in it (-1 where a layer is absent), before truncation.</summary>
    public FrameLayout Layout()
    {
        byte[] upper = Transport?.Encode(Network, Payload) ?? Payload;
        byte[] network = Network?.Encode(Transport?.Protocol, upper.Length) ?? [];
        ushort etherType = EtherType ?? Network switch
        {
            Ipv4Header => EtherTypes.Ipv4,
            Ipv6Header => EtherTypes.Ipv6,
            _ => throw new InvalidOperationException("a frame without a network header needs an EtherType"),
        };

        var b = new List<byte>(14 + 4 * Vlans.Count + network.Length + upper.Length);
        b.AddRange(ParseMac(DstMac));
        b.AddRange(ParseMac(SrcMac));
        foreach (var tag in Vlans)
        {
            AddBe16(b, tag.Tpid);
            AddBe16(b, (ushort)((tag.Priority & 7) << 13 | (tag.Id & 0xfff)));
        }
        AddBe16(b, etherType);
        int networkOffset = Network is null ? -1 : b.Count;
        b.AddRange(network);
        int transportOffset = Transport is null ? -1 : b.Count;
        int payloadOffset = b.Count + (Transport is null ? 0 : upper.Length - Payload.Length);
        b.AddRange(upper);

        byte[] bytes = b.ToArray();
        int fullLength = bytes.Length;
        if (TruncateTo is int n)
            bytes = bytes[..Math.Clamp(n, 0, bytes.Length)];
        return new FrameLayout(bytes, fullLength, 14 + 4 * Vlans.Count, networkOffset, transportOffset, payloadOffset);
    }

    public static byte[] ParseMac(string mac)
    {
        var parts = mac.Split(':');
        if (parts.Length != 6)
            throw new FormatException($"not a MAC address: {mac}");
        return parts.Select(p => Convert.ToByte(p, 16)).ToArray();
    }

    static void AddBe16(List<byte> b, ushort v)
    {
        b.Add((byte)(v >> 8));
        b.Add((byte)v);
    }
}

/// <summary>
/// A built frame (truncated if asked) and where its layers start in the untruncated bytes:
/// <paramref name="L2End"/> is the end of the Ethernet header and tags; <paramref name="NetworkOffset"/> and
/// <paramref name="TransportOffset"/> are -1 when the frame has no such layer.
/// </summary>
public sealed record FrameLayout(byte[] Bytes, int FullLength, int L2End, int NetworkOffset, int TransportOffset, int PayloadOffset);
