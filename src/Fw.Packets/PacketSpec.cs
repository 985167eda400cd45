using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Fw.Packets;

/// <summary>What a packet spec says after its prefixes: the kind of frame.</summary>
public enum SpecKind
{
    Tcp,
    Udp,
    Icmp,
    Icmpv6,
    /// <summary>An IP packet of any protocol: the bytes after the IP header are <see cref="PacketSpec.Length"/> counting bytes.</summary>
    Proto,
    /// <summary>An ARP request (non-IP).</summary>
    Arp,
    /// <summary>Any EtherType followed by counting bytes (non-IP, or a deliberately short IP header).</summary>
    Ether,
}

/// <summary>A packet spec that does not parse: where (1-based column, length of the offending text) and why.</summary>
public sealed class PacketSpecException(int column, int length, string reason)
    : FormatException($"col {column}: {reason}")
{
    public int Column { get; } = column;
    /// <summary>Characters of the spec the error is about (at least 1), for an underline.</summary>
    public int Length { get; } = Math.Max(1, length);
    public string Reason { get; } = reason;
}

/// <summary>
/// A packet described in one readable line, as <c>fwctl test --packet</c> takes it:
/// <code>
/// SPEC    := PREFIX* BODY OPTION*
/// PREFIX  := vlan ID            802.1Q tag 0-4095; repeat for QinQ: the first is outermost, and with two or
///                               more tags every tag but the innermost is 802.1ad (0x88a8)
///          | frag [OFFSET]      IP fragment at OFFSET bytes (a multiple of 8, default 1480); offset 0 is a
///                               first fragment (more-fragments set), any other a non-first fragment
///          | ext NAME[,NAME]*   IPv6 extension headers in order: hop, route, dest, ah (frag adds its own, last)
/// BODY    := tcp EP -> EP [FLAGS]              FLAGS: fin syn rst psh ack urg ece cwr, comma list or words,
///                                              or none; default syn
///          | udp EP -> EP
///          | icmp ADDR -> ADDR [type N] [code N]      default type 8 (echo request)
///          | icmpv6 ADDR -> ADDR [type N] [code N]    default type 128 (echo request)
///          | proto P ADDR -> ADDR             any IP protocol (0-255 or tcp, udp, icmp, icmpv6), no L4 header
///          | arp ADDR -> ADDR                 ARP request: who has the second, tell the first (IPv4)
///          | ether TYPE                       any EtherType (0x88cc or decimal), then len bytes
/// EP      := IPV4:PORT | [IPV6]:PORT          ADDR: IPV4 | IPV6 | [IPV6]
/// OPTION  := len N                            N payload bytes after the last header (0, 1, 2, ...)
///          | trunc N                          cut the finished frame to N bytes
/// </code>
/// Keywords are case-insensitive; tokens are separated by spaces ("->" and "," need none). The frame's MACs,
/// IP ids, TTLs, sequence numbers and checksums are <see cref="Frame"/>'s defaults. <see cref="ToString"/> is
/// the canonical spec, which parses back to the same packet; <see cref="Describe(ReadOnlySpan{byte})"/> writes
/// a spec (or, when the bytes say more than a spec can, a summary in the same words) for any frame.
/// </summary>
public sealed record PacketSpec
{
    public const int DefaultFragmentOffset = 1480;
    public const int MaxVlans = 8;
    public const int MaxExtensions = 16;

    public IReadOnlyList<ushort> Vlans { get; init; } = [];
    /// <summary>In bytes, a multiple of 8; null: not a fragment.</summary>
    public int? FragmentOffset { get; init; }
    /// <summary>IPv6 extension header types (<see cref="IpProtocols"/>), in order, the fragment header excluded.</summary>
    public IReadOnlyList<byte> Extensions { get; init; } = [];
    public SpecKind Kind { get; init; }
    public IPAddress? Src { get; init; }
    public IPAddress? Dst { get; init; }
    public ushort SrcPort { get; init; }
    public ushort DstPort { get; init; }
    public TcpFlags Flags { get; init; } = TcpFlags.Syn;
    public byte IcmpType { get; init; }
    public byte IcmpCode { get; init; }
    /// <summary>The IP protocol of <see cref="SpecKind.Proto"/>.</summary>
    public byte Protocol { get; init; }
    /// <summary>The EtherType of <see cref="SpecKind.Ether"/>.</summary>
    public ushort EtherType { get; init; }
    /// <summary>Payload bytes after the last header.</summary>
    public int Length { get; init; }
    /// <summary>Cut the frame to this many bytes; null: whole.</summary>
    public int? Truncate { get; init; }

    public bool IsIp => Kind is not (SpecKind.Arp or SpecKind.Ether);

    /// <summary>Parses one spec; a <see cref="PacketSpecException"/> says at which column and why not.</summary>
    public static PacketSpec Parse(string text) => new SpecParser(text).Parse();

    public static bool TryParse(string text, out PacketSpec? spec, out PacketSpecException? error)
    {
        try
        {
            spec = Parse(text);
            error = null;
            return true;
        }
        catch (PacketSpecException e)
        {
            spec = null;
            error = e;
            return false;
        }
    }

    public Frame ToFrame()
    {
        Frame f = Kind switch
        {
            SpecKind.Tcp => Frame.Tcp(Src!, Dst!, SrcPort, DstPort, Flags),
            SpecKind.Udp => Frame.Udp(Src!, Dst!, SrcPort, DstPort),
            SpecKind.Icmp => Frame.Icmp(Src!, Dst!, IcmpType, IcmpCode),
            SpecKind.Icmpv6 => Frame.Icmpv6(Src!, Dst!, IcmpType, IcmpCode),
            SpecKind.Proto => Frame.Ip(Src!, Dst!, Protocol),
            SpecKind.Arp => Frame.Arp(Src!.ToString(), Dst!.ToString()),
            _ => Frame.Raw(EtherType, []),
        };
        if (Kind != SpecKind.Arp)
            f = f.WithPayload(Length);
        for (int i = 0; i < Vlans.Count; i++)
            f = f.WithVlan(Vlans[i], Vlans.Count > 1 && i < Vlans.Count - 1 ? EtherTypes.QinQ : EtherTypes.Vlan);
        if (Extensions.Count > 0)
            f = f.WithExtensions(Extensions.Select(ExtensionHeader).ToArray());
        if (FragmentOffset is int offset)
            f = f.AsFragment((ushort)(offset / 8), more: offset == 0);
        if (Truncate is int n)
            f = f.Truncated(n);
        return f;
    }

    public byte[] Build() => ToFrame().Build();

    /// <summary>The canonical spec: lower case, prefixes first (vlan, ext, frag), every field written out.</summary>
    public override string ToString()
    {
        var s = new StringBuilder();
        foreach (ushort id in Vlans)
            s.Append("vlan ").Append(id).Append(' ');
        if (Extensions.Count > 0)
            s.Append("ext ").Append(string.Join(',', Extensions.Select(ExtensionName))).Append(' ');
        if (FragmentOffset is int offset)
            s.Append("frag ").Append(offset).Append(' ');
        switch (Kind)
        {
            case SpecKind.Tcp:
                s.Append("tcp ").Append(Endpoint(Src!, SrcPort)).Append(" -> ").Append(Endpoint(Dst!, DstPort))
                    .Append(' ').Append(FlagsText(Flags));
                break;
            case SpecKind.Udp:
                s.Append("udp ").Append(Endpoint(Src!, SrcPort)).Append(" -> ").Append(Endpoint(Dst!, DstPort));
                break;
            case SpecKind.Icmp or SpecKind.Icmpv6:
                s.Append(Kind == SpecKind.Icmp ? "icmp " : "icmpv6 ").Append(Src).Append(" -> ").Append(Dst)
                    .Append(" type ").Append(IcmpType);
                if (IcmpCode != 0)
                    s.Append(" code ").Append(IcmpCode);
                break;
            case SpecKind.Proto:
                s.Append("proto ").Append(ProtocolName(Protocol)).Append(' ').Append(Src).Append(" -> ").Append(Dst);
                break;
            case SpecKind.Arp:
                s.Append("arp ").Append(Src).Append(" -> ").Append(Dst);
                break;
            case SpecKind.Ether:
                s.Append("ether 0x").Append(EtherType.ToString("x4"));
                break;
        }
        if (Length != 0)
            s.Append(" len ").Append(Length);
        if (Truncate is int t)
            s.Append(" trunc ").Append(t);
        return s.ToString();
    }

    // ---- Describing bytes ------------------------------------------------------------------------

    /// <summary>
    /// A frame in spec words. For a frame a spec built, the result parses back to the same bytes (except
    /// for a non-first fragment that carries an L4 header, described as raw <c>proto</c> bytes, and a
    /// truncated frame). For any other frame it is a summary: MACs, IP ids, TTLs, TCP options and payload
    /// contents are left out; what the frame's headers fail to hold is added in parentheses.
    /// </summary>
    public static string Describe(ReadOnlySpan<byte> frame)
    {
        var p = FrameParser.Parse(frame);
        if (p.EtherType is null)
            return $"({frame.Length} bytes: {p.Problem})";
        var s = new StringBuilder();
        foreach (var tag in p.Vlans)
            s.Append("vlan ").Append(tag.Id).Append(' ');
        string? note = p.Problem;

        if (p.Ipv4 is null && p.Ipv6 is null)
        {
            int rest = frame.Length - p.PayloadOffset;
            if (p.EtherType == EtherTypes.Arp && rest >= 28 && IsEthernetIpv4Arp(frame[p.PayloadOffset..]))
            {
                var arp = frame[p.PayloadOffset..];
                // Bytes after the 28 of the message are Ethernet padding (a real ARP frame is 60 bytes): not worth a note.
                s.Append("arp ").Append(new IPAddress(arp.Slice(14, 4))).Append(" -> ").Append(new IPAddress(arp.Slice(24, 4)));
            }
            else
            {
                s.Append("ether 0x").Append(p.EtherType.Value.ToString("x4"));
                if (rest > 0)
                    s.Append(" len ").Append(rest);
            }
            return note is null ? s.ToString() : $"{s} ({note})";
        }

        IPAddress src, dst;
        byte protocol;
        int ipEnd;       // the end of the IP packet in the frame, as its length field says (capped at the frame)
        string? fragment = null;
        if (p.Ipv4 is { } v4)
        {
            src = v4.Src;
            dst = v4.Dst;
            protocol = v4.Protocol;
            ipEnd = Math.Min(frame.Length, NetworkStart(p) + v4.TotalLength);
            if (v4.FragmentOffset != 0 || v4.MoreFragments)
                fragment = $"frag {v4.FragmentOffset * 8} ";
            if (v4.Version != 4 || v4.Ihl < 5)
                note ??= $"IPv4 header with version {v4.Version}, IHL {v4.Ihl}";
        }
        else
        {
            var v6 = p.Ipv6!;
            src = v6.Src;
            dst = v6.Dst;
            protocol = v6.Protocol;
            ipEnd = Math.Min(frame.Length, NetworkStart(p) + 40 + v6.PayloadLength);
            var named = v6.Extensions.Where(e => e.Type != IpProtocols.Fragment).ToList();
            if (named.Count > 0)
                s.Append("ext ").Append(string.Join(',', named.Select(e => ExtensionName(e.Type)))).Append(' ');
            if (v6.Extensions.FirstOrDefault(e => e.Type == IpProtocols.Fragment) is { } fr)
                fragment = $"frag {fr.FragmentOffset!.Value * 8} ";
            if (v6.Version != 6)
                note ??= $"IPv6 header with version {v6.Version}";
        }
        s.Append(fragment);
        if (ipEnd < p.PayloadOffset)
            ipEnd = frame.Length;   // a length field shorter than the headers: count what is there
        int payload = Math.Max(0, ipEnd - p.PayloadOffset);

        if (p.Tcp is { } tcp)
            s.Append("tcp ").Append(Endpoint(src, tcp.SrcPort)).Append(" -> ").Append(Endpoint(dst, tcp.DstPort))
                .Append(' ').Append(FlagsText(tcp.Flags));
        else if (p.Udp is { } udp)
            s.Append("udp ").Append(Endpoint(src, udp.SrcPort)).Append(" -> ").Append(Endpoint(dst, udp.DstPort));
        else if (p.Icmp is { } icmp)
        {
            s.Append(icmp.V6 ? "icmpv6 " : "icmp ").Append(src).Append(" -> ").Append(dst).Append(" type ").Append(icmp.Type);
            if (icmp.Code != 0)
                s.Append(" code ").Append(icmp.Code);
        }
        else if (p.Problem is not null && !p.NonFirstFragment && protocol is IpProtocols.Tcp or IpProtocols.Udp
                 or IpProtocols.Icmp or IpProtocols.IcmpV6)
        {
            // A frame too short for the L4 header it names: say what it was meant to be.
            s.Append(ProtocolName(protocol)).Append(' ').Append(src).Append(" -> ").Append(dst);
            payload = 0;
        }
        else
        {
            s.Append("proto ").Append(ProtocolName(protocol)).Append(' ').Append(src).Append(" -> ").Append(dst);
        }
        if (payload > 0)
            s.Append(" len ").Append(payload);
        return note is null ? s.ToString() : $"{s} ({note})";
    }

    static int NetworkStart(ParsedFrame p) => 14 + 4 * p.Vlans.Count;

    static bool IsEthernetIpv4Arp(ReadOnlySpan<byte> arp) =>
        Bytes.ReadBe16(arp, 0) == 1 && Bytes.ReadBe16(arp, 2) == EtherTypes.Ipv4 && arp[4] == 6 && arp[5] == 4;

    // ---- Words --------------------------------------------------------------------------------

    internal static readonly (string Name, TcpFlags Flag)[] FlagNames =
    [
        ("fin", TcpFlags.Fin), ("syn", TcpFlags.Syn), ("rst", TcpFlags.Rst), ("psh", TcpFlags.Psh),
        ("ack", TcpFlags.Ack), ("urg", TcpFlags.Urg), ("ece", TcpFlags.Ece), ("cwr", TcpFlags.Cwr),
    ];

    internal static readonly (string Name, byte Type)[] ExtensionNames =
    [
        ("hop", IpProtocols.HopByHop), ("route", IpProtocols.Routing), ("dest", IpProtocols.DestOptions), ("ah", IpProtocols.Ah),
    ];

    internal static readonly (string Name, byte Protocol)[] ProtocolNames =
    [
        ("tcp", IpProtocols.Tcp), ("udp", IpProtocols.Udp), ("icmp", IpProtocols.Icmp), ("icmpv6", IpProtocols.IcmpV6),
    ];

    public static string FlagsText(TcpFlags flags) =>
        flags == TcpFlags.None ? "none" : string.Join(',', FlagNames.Where(f => flags.HasFlag(f.Flag)).Select(f => f.Name));

    static string ExtensionName(byte type) =>
        ExtensionNames.FirstOrDefault(e => e.Type == type).Name ?? $"ext{type}";

    static string ProtocolName(byte protocol) =>
        ProtocolNames.FirstOrDefault(p => p.Protocol == protocol).Name ?? protocol.ToString(CultureInfo.InvariantCulture);

    static Ipv6Ext ExtensionHeader(byte type) => type switch
    {
        IpProtocols.HopByHop => Ipv6Ext.HopByHop(),
        IpProtocols.Routing => Ipv6Ext.Routing(),
        IpProtocols.DestOptions => Ipv6Ext.DestOptions(),
        IpProtocols.Ah => Ipv6Ext.Ah(),
        _ => throw new ArgumentOutOfRangeException(nameof(type), $"no builder for extension header {type}"),
    };

    static string Endpoint(IPAddress a, ushort port) =>
        a.AddressFamily == AddressFamily.InterNetworkV6 ? $"[{a}]:{port}" : $"{a}:{port}";
}

/// <summary>The recursive-descent parser behind <see cref="PacketSpec.Parse"/>; every error carries its column.</summary>
internal sealed class SpecParser
{
    enum T { Word, Arrow, Comma, End }

    readonly record struct Token(T Kind, string Text, int Col)
    {
        public int Length => Math.Max(1, Text.Length);
        public override string ToString() => Kind == T.End ? "the end of the spec" : $"'{Text}'";
    }

    const string Kinds = "tcp, udp, icmp, icmpv6, proto, arp or ether";

    readonly List<Token> _tokens;
    int _at;

    public SpecParser(string text)
    {
        _tokens = Lex(text);
    }

    static List<Token> Lex(string s)
    {
        var tokens = new List<Token>();
        int i = 0;
        while (i < s.Length)
        {
            char c = s[i];
            if (char.IsWhiteSpace(c))
            {
                i++;
                continue;
            }
            if (c == ',')
            {
                tokens.Add(new Token(T.Comma, ",", i + 1));
                i++;
                continue;
            }
            if (c == '-' && i + 1 < s.Length && s[i + 1] == '>')
            {
                tokens.Add(new Token(T.Arrow, "->", i + 1));
                i += 2;
                continue;
            }
            int start = i;
            while (i < s.Length && !char.IsWhiteSpace(s[i]) && s[i] != ',' && !(s[i] == '-' && i + 1 < s.Length && s[i + 1] == '>'))
                i++;
            tokens.Add(new Token(T.Word, s[start..i], start + 1));
        }
        tokens.Add(new Token(T.End, "", s.TrimEnd().Length + 1));
        return tokens;
    }

    Token Peek => _tokens[_at];

    Token Next() => _tokens[_at < _tokens.Count - 1 ? _at++ : _at];

    static PacketSpecException Error(Token t, string reason) => new(t.Col, t.Length, reason);

    static PacketSpecException Error(int col, int length, string reason) => new(col, length, reason);

    bool PeekWord(string word) => Peek.Kind == T.Word && Peek.Text.Equals(word, StringComparison.OrdinalIgnoreCase);

    public PacketSpec Parse()
    {
        if (Peek.Kind == T.End)
            throw Error(1, 1, $"empty packet spec; expected {Kinds} (after any vlan, frag or ext)");

        var vlans = new List<ushort>();
        var extensions = new List<byte>();
        Token? fragToken = null, extToken = null;
        int? fragment = null;
        while (true)
        {
            if (PeekWord("vlan"))
            {
                var kw = Next();
                if (vlans.Count == PacketSpec.MaxVlans)
                    throw Error(kw, $"at most {PacketSpec.MaxVlans} VLAN tags");
                vlans.Add((ushort)Number(Next(), "a VLAN id", 0, 4095, after: "'vlan'"));
            }
            else if (PeekWord("frag"))
            {
                var kw = Next();
                if (fragToken is { } first)
                    throw Error(kw, $"frag given twice (first at col {first.Col})");
                fragToken = kw;
                fragment = PacketSpec.DefaultFragmentOffset;
                if (Peek.Kind == T.Word && char.IsAsciiDigit(Peek.Text[0]))
                {
                    var t = Next();
                    int offset = Number(t, "a fragment offset in bytes", 0, 8191 * 8, after: "'frag'");
                    if (offset % 8 != 0)
                        throw Error(t, $"fragment offset {offset} is not a multiple of 8 bytes (IP counts it in 8-byte units)");
                    fragment = offset;
                }
            }
            else if (PeekWord("ext"))
            {
                var kw = Next();
                if (extToken is { } first)
                    throw Error(kw, $"ext given twice (first at col {first.Col}); list every header once: ext hop,dest");
                extToken = kw;
                do
                {
                    var t = Next();
                    if (t.Kind != T.Word)
                        throw Error(t, $"expected an IPv6 extension header (hop, route, dest, ah), found {t}");
                    var e = PacketSpec.ExtensionNames.FirstOrDefault(n => n.Name.Equals(t.Text, StringComparison.OrdinalIgnoreCase));
                    if (e.Name is null)
                        throw Error(t, t.Text.Equals("frag", StringComparison.OrdinalIgnoreCase)
                            ? "a fragment header is written with the frag prefix, not in ext"
                            : $"unknown IPv6 extension header '{t.Text}'; expected hop, route, dest or ah");
                    if (extensions.Count == PacketSpec.MaxExtensions)
                        throw Error(t, $"at most {PacketSpec.MaxExtensions} extension headers");
                    extensions.Add(e.Type);
                }
                while (Peek.Kind == T.Comma && Next().Kind == T.Comma);
            }
            else
            {
                break;
            }
        }

        var kindToken = Next();
        if (kindToken.Kind != T.Word)
            throw Error(kindToken, $"expected {Kinds}, found {kindToken}");
        var spec = new PacketSpec { Vlans = vlans, Extensions = extensions, FragmentOffset = fragment };
        spec = kindToken.Text.ToLowerInvariant() switch
        {
            "tcp" => spec with { Kind = SpecKind.Tcp },
            "udp" => spec with { Kind = SpecKind.Udp },
            "icmp" => spec with { Kind = SpecKind.Icmp, IcmpType = 8 },
            "icmpv6" => spec with { Kind = SpecKind.Icmpv6, IcmpType = 128 },
            "proto" => spec with { Kind = SpecKind.Proto, Protocol = ProtocolNumber(Next()) },
            "arp" => spec with { Kind = SpecKind.Arp },
            "ether" => spec with { Kind = SpecKind.Ether, EtherType = EtherTypeNumber(Next()) },
            _ => throw Error(kindToken, $"unknown packet kind '{kindToken.Text}'; expected {Kinds}"),
        };

        if (spec.Kind != SpecKind.Ether)
        {
            bool ports = spec.Kind is SpecKind.Tcp or SpecKind.Udp;
            var (src, sport, srcToken) = Address(ports, "source");
            var arrow = Next();
            if (arrow.Kind != T.Arrow)
                throw Error(arrow, $"expected '->' between source and destination, found {arrow}");
            var (dst, dport, dstToken) = Address(ports, "destination");
            if (src.AddressFamily != dst.AddressFamily)
                throw Error(dstToken, $"{dst} is {Family(dst)} but the source {src} is {Family(src)}");
            if (spec.Kind == SpecKind.Arp && src.AddressFamily != AddressFamily.InterNetwork)
                throw Error(srcToken, "arp takes IPv4 addresses (IPv6 uses ICMPv6 neighbour discovery: icmpv6 ... type 135)");
            spec = spec with { Src = src, Dst = dst, SrcPort = sport, DstPort = dport };
        }

        if (fragToken is { } ft && !spec.IsIp)
            throw Error(ft, $"frag needs an IP packet, not {kindToken.Text.ToLowerInvariant()}");
        if (extToken is { } et && (!spec.IsIp || spec.Src!.AddressFamily != AddressFamily.InterNetworkV6))
            throw Error(et, "ext (IPv6 extension headers) needs an IPv6 packet");

        return Options(spec);
    }

    PacketSpec Options(PacketSpec spec)
    {
        Token? flagsAt = null, noneAt = null, lenAt = null, truncAt = null, typeAt = null, codeAt = null;
        var flags = TcpFlags.None;
        while (Peek.Kind != T.End)
        {
            var t = Next();
            string word = t.Kind == T.Word ? t.Text.ToLowerInvariant() : "";
            switch (word)
            {
                case "len" when spec.Kind != SpecKind.Arp:
                    Once(ref lenAt, t);
                    var n = Next();
                    int length = Number(n, "a payload length in bytes", 0, 65535, after: "'len'");
                    int max = MaxPayload(spec);
                    if (length > max)
                        throw Error(n, $"len {length} is too long: at most {max} payload bytes fit this packet's length field");
                    spec = spec with { Length = length };
                    break;
                case "trunc":
                    Once(ref truncAt, t);
                    spec = spec with { Truncate = Number(Next(), "a frame length in bytes", 0, 65535 + 64, after: "'trunc'") };
                    break;
                case "type" or "code" when spec.Kind is SpecKind.Icmp or SpecKind.Icmpv6:
                    if (word == "type")
                    {
                        Once(ref typeAt, t);
                        spec = spec with { IcmpType = (byte)Number(Next(), "an ICMP type", 0, 255, after: "'type'") };
                    }
                    else
                    {
                        Once(ref codeAt, t);
                        spec = spec with { IcmpCode = (byte)Number(Next(), "an ICMP code", 0, 255, after: "'code'") };
                    }
                    break;
                case "none" when spec.Kind == SpecKind.Tcp:
                    if (flagsAt is { } f)
                        throw Error(t, $"'none' cannot be combined with other flags (col {f.Col})");
                    noneAt = t;
                    flagsAt = t;
                    break;
                default:
                    var flag = PacketSpec.FlagNames.FirstOrDefault(n => n.Name == word);
                    if (spec.Kind == SpecKind.Tcp && flag.Name is not null)
                    {
                        if (noneAt is { } none)
                            throw Error(t, $"'{flag.Name}' cannot be combined with 'none' (col {none.Col})");
                        if (flags.HasFlag(flag.Flag))
                            throw Error(t, $"tcp flag '{flag.Name}' given twice");
                        flagsAt ??= t;
                        flags |= flag.Flag;
                        if (Peek.Kind == T.Comma)
                        {
                            Next();
                            if (Peek.Kind != T.Word || !PacketSpec.FlagNames.Any(n => n.Name.Equals(Peek.Text, StringComparison.OrdinalIgnoreCase)))
                                throw Error(Peek, $"expected a tcp flag (fin syn rst psh ack urg ece cwr) after ',', found {Peek}");
                        }
                        break;
                    }
                    throw Error(t, Unexpected(t, spec.Kind));
            }
        }
        if (spec.Kind == SpecKind.Tcp && flagsAt is not null)
            spec = spec with { Flags = flags };
        return spec;
    }

    static string Unexpected(Token t, SpecKind kind)
    {
        string expected = kind switch
        {
            SpecKind.Tcp => "tcp flags (fin syn rst psh ack urg ece cwr, or none), len or trunc",
            SpecKind.Icmp or SpecKind.Icmpv6 => "type, code, len or trunc",
            SpecKind.Arp => "trunc",
            _ => "len or trunc",
        };
        if (kind == SpecKind.Arp && t.Text.Equals("len", StringComparison.OrdinalIgnoreCase))
            return "len does not apply to arp (the message is 28 bytes)";
        string prefix = t.Text.ToLowerInvariant() is "vlan" or "frag" or "ext" ? $" ({t.Text} goes before the packet kind)" : "";
        return $"unexpected {t} after the packet; expected {expected}{prefix}";
    }

    static void Once(ref Token? seen, Token t)
    {
        if (seen is { } first)
            throw Error(t, $"{t.Text.ToLowerInvariant()} given twice (first at col {first.Col})");
        seen = t;
    }

    /// <summary>
    /// The most payload the packet's length field can describe (IPv4 total length, IPv6 payload length:
    /// 16 bits each); 65,535 for non-IP frames.
    /// </summary>
    static int MaxPayload(PacketSpec spec)
    {
        if (!spec.IsIp)
            return 65535;
        int l2 = 14 + 4 * spec.Vlans.Count;
        int headers = (spec with { Length = 0, Truncate = null }).Build().Length - l2;
        if (spec.Src!.AddressFamily == AddressFamily.InterNetworkV6)
            headers -= 40;   // the payload length does not count the fixed header
        return 65535 - headers;
    }

    (IPAddress Address, ushort Port, Token Token) Address(bool withPort, string which)
    {
        var t = Next();
        if (t.Kind != T.Word)
            throw Error(t, $"expected a {which} address, found {t}");
        string w = t.Text;
        if (w.StartsWith('['))
        {
            int close = w.IndexOf(']');
            if (close < 0)
                throw Error(t.Col + w.Length, 1, $"expected ']' after the IPv6 address");
            var a = ParseAddress(w[1..close], t.Col + 1);
            if (a.AddressFamily != AddressFamily.InterNetworkV6)
                throw Error(t.Col + 1, close - 1, $"brackets are for IPv6 addresses; write {a} without them");
            string rest = w[(close + 1)..];
            int restCol = t.Col + close + 1;
            if (!withPort)
            {
                if (rest.Length > 0)
                    throw Error(restCol, rest.Length, $"unexpected '{rest}' after the address (no port here)");
                return (a, 0, t);
            }
            if (rest.Length == 0)
                throw Error(restCol, 1, $"expected ':' and a port after [{w[1..close]}]");
            if (rest[0] != ':')
                throw Error(restCol, rest.Length, $"expected ':' and a port after ']', found '{rest}'");
            return (a, Port(rest[1..], restCol + 1), t);
        }

        int colons = w.Count(c => c == ':');
        if (!withPort || colons > 1)
        {
            if (withPort)
            {
                // An IPv6 address: without brackets its last group and a port cannot be told apart.
                int last = w.LastIndexOf(':');
                string hint = IPAddress.TryParse(w[..last], out var maybe) && maybe.AddressFamily == AddressFamily.InterNetworkV6
                    && !string.IsNullOrEmpty(w[(last + 1)..])
                    ? $"[{w[..last]}]:{w[(last + 1)..]}" : "[ADDR]:PORT";
                throw Error(t, $"an IPv6 address with a port needs brackets: {hint}");
            }
            return (ParseAddress(w, t.Col), 0, t);
        }
        if (colons == 0)
        {
            var a = ParseAddress(w, t.Col);
            throw Error(t.Col + w.Length, 1, $"expected ':' and a port after {a} (ports are required for tcp and udp)");
        }
        int colon = w.IndexOf(':');
        var addr = ParseAddress(w[..colon], t.Col);
        return (addr, Port(w[(colon + 1)..], t.Col + colon + 1), t);
    }

    static ushort Port(string text, int col)
    {
        if (text.Length == 0)
            throw Error(col, 1, "expected a port after ':'");
        if (!text.All(char.IsAsciiDigit))
            throw Error(col, text.Length, $"expected a port (0-65535) after ':', found '{text}'");
        if (!int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out int port) || port > 65535)
            throw Error(col, text.Length, $"port {text} is out of range (0-65535)");
        return (ushort)port;
    }

    /// <summary>Strict: a dotted quad without leading zeros, or an IPv6 address without a zone.</summary>
    static IPAddress ParseAddress(string text, int col)
    {
        if (text.Contains(':'))
        {
            if (!text.Contains('%') && IPAddress.TryParse(text, out var a6) && a6.AddressFamily == AddressFamily.InterNetworkV6)
                return a6;
            throw Error(col, text.Length, $"'{text}' is not an IPv6 address");
        }
        var parts = text.Split('.');
        var bytes = new byte[4];
        bool ok = parts.Length == 4;
        for (int i = 0; ok && i < 4; i++)
        {
            string p = parts[i];
            ok = p.Length is > 0 and <= 3 && p.All(char.IsAsciiDigit) && (p.Length == 1 || p[0] != '0')
                && int.Parse(p, CultureInfo.InvariantCulture) <= 255;
            if (ok)
                bytes[i] = byte.Parse(p, CultureInfo.InvariantCulture);
        }
        if (!ok)
            throw Error(col, text.Length, text.Length == 0 ? "expected an address" : $"'{text}' is not an IPv4 or IPv6 address");
        return new IPAddress(bytes);
    }

    static string Family(IPAddress a) => a.AddressFamily == AddressFamily.InterNetwork ? "IPv4" : "IPv6";

    static int Number(Token t, string what, int min, int max, string after)
    {
        if (t.Kind != T.Word || !t.Text.All(char.IsAsciiDigit))
            throw Error(t, $"expected {what} after {after}, found {t}");
        if (!int.TryParse(t.Text, NumberStyles.None, CultureInfo.InvariantCulture, out int n) || n < min || n > max)
        {
            string noun = what.StartsWith("an ", StringComparison.Ordinal) ? what[3..] : what.StartsWith("a ", StringComparison.Ordinal) ? what[2..] : what;
            throw Error(t, $"{noun} {t.Text} is out of range ({min}-{max})");
        }
        return n;
    }

    static byte ProtocolNumber(Token t)
    {
        if (t.Kind == T.Word)
        {
            var named = PacketSpec.ProtocolNames.FirstOrDefault(p => p.Name.Equals(t.Text, StringComparison.OrdinalIgnoreCase));
            if (named.Name is not null)
                return named.Protocol;
        }
        if (t.Kind != T.Word || !t.Text.All(char.IsAsciiDigit))
            throw Error(t, $"expected an IP protocol (0-255, tcp, udp, icmp or icmpv6) after 'proto', found {t}");
        return (byte)Number(t, "an IP protocol", 0, 255, "'proto'");
    }

    static ushort EtherTypeNumber(Token t)
    {
        if (t.Kind == T.Word && t.Text.StartsWith("0x", StringComparison.OrdinalIgnoreCase))
        {
            if (t.Text.Length is > 2 and <= 6 && ushort.TryParse(t.Text.AsSpan(2), NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out ushort hex))
                return hex;
            throw Error(t, $"EtherType {t.Text} is not a 16-bit hex number (0x0000-0xffff)");
        }
        return (ushort)Number(t, "an EtherType (0x88cc or decimal)", 0, 65535, "'ether'");
    }
}
