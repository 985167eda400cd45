using System.Net;
using System.Text;

namespace Fw.Packets;

// A lenient dissector for test frames: it reads as far as the bytes allow and says where and why it
// stopped. It knows nothing of the firewall's limits (it reads any number of VLAN tags and extension
// headers); that is the reference evaluator's job. Use it to describe frames in failure messages and to
// check what the builder wrote.

public sealed record ParsedIpv4(
    int Version, int Ihl, ushort TotalLength, ushort Id, bool DontFragment, bool MoreFragments,
    ushort FragmentOffset, byte Ttl, byte Protocol, ushort Checksum, bool ChecksumOk,
    IPAddress Src, IPAddress Dst, byte[] Options);

/// <param name="Length">The header's size in bytes as its length field gives it.</param>
/// <param name="FragmentOffset">For a fragment header: the offset in 8-byte units; otherwise null.</param>
public sealed record ParsedExt(byte Type, byte NextHeader, int Length, ushort? FragmentOffset = null, bool? More = null);

/// <param name="Protocol">The first next-header value that is not an extension header (or that of a non-first fragment).</param>
public sealed record ParsedIpv6(
    int Version, byte TrafficClass, uint FlowLabel, ushort PayloadLength, byte NextHeader, byte HopLimit,
    IPAddress Src, IPAddress Dst, IReadOnlyList<ParsedExt> Extensions, byte Protocol);

public sealed record ParsedTcp(ushort SrcPort, ushort DstPort, uint Sequence, uint Acknowledgment, int DataOffset,
    TcpFlags Flags, ushort Window, ushort Checksum, bool ChecksumOk);

public sealed record ParsedUdp(ushort SrcPort, ushort DstPort, ushort Length, ushort Checksum, bool ChecksumOk);

public sealed record ParsedIcmp(bool V6, byte Type, byte Code, ushort Checksum, bool ChecksumOk);

public sealed record ParsedFrame
{
    public required int Length { get; init; }
    public string? DstMac { get; init; }
    public string? SrcMac { get; init; }
    public IReadOnlyList<VlanTag> Vlans { get; init; } = [];
    /// <summary>The EtherType after the tags.</summary>
    public ushort? EtherType { get; init; }
    public ParsedIpv4? Ipv4 { get; init; }
    public ParsedIpv6? Ipv6 { get; init; }
    /// <summary>IPv4 offset != 0, or an IPv6 fragment header with offset != 0: no transport header to read.</summary>
    public bool NonFirstFragment { get; init; }
    public ParsedTcp? Tcp { get; init; }
    public ParsedUdp? Udp { get; init; }
    public ParsedIcmp? Icmp { get; init; }
    /// <summary>Where the bytes after the last header read start.</summary>
    public int PayloadOffset { get; init; }
    /// <summary>Why the parser stopped before the end of the headers, or null.</summary>
    public string? Problem { get; init; }

    public override string ToString()
    {
        var s = new StringBuilder();
        s.Append($"{Length} bytes");
        if (SrcMac is not null)
            s.Append($", {SrcMac} > {DstMac}");
        foreach (var v in Vlans)
            s.Append($", vlan {v.Id} (0x{v.Tpid:x4})");
        if (EtherType is ushort et)
            s.Append($", ethertype 0x{et:x4}");
        if (Ipv4 is { } v4)
            s.Append($", IPv4 {v4.Src} > {v4.Dst} proto {v4.Protocol} ihl {v4.Ihl} ver {v4.Version}"
                + $" frag {v4.FragmentOffset}{(v4.MoreFragments ? "+" : "")}");
        if (Ipv6 is { } v6)
        {
            s.Append($", IPv6 {v6.Src} > {v6.Dst} ver {v6.Version}");
            foreach (var e in v6.Extensions)
                s.Append(e.FragmentOffset is ushort off
                    ? $", ext 44 frag {off}{(e.More == true ? "+" : "")}"
                    : $", ext {e.Type} len {e.Length}");
            s.Append($", proto {v6.Protocol}");
        }
        if (NonFirstFragment)
            s.Append(", non-first fragment");
        if (Tcp is { } t)
            s.Append($", TCP {t.SrcPort} > {t.DstPort} flags 0x{(byte)t.Flags:x2} [{t.Flags}]");
        if (Udp is { } u)
            s.Append($", UDP {u.SrcPort} > {u.DstPort}");
        if (Icmp is { } i)
            s.Append($", {(i.V6 ? "ICMPv6" : "ICMP")} type {i.Type} code {i.Code}");
        if (Problem is not null)
            s.Append($", stopped: {Problem}");
        return s.ToString();
    }
}

public static class FrameParser
{
    const int MaxVlanTags = 16, MaxExtensions = 32;

    public static ParsedFrame Parse(ReadOnlySpan<byte> f)
    {
        var p = new ParsedFrame { Length = f.Length };
        if (f.Length < 14)
            return p with { Problem = $"Ethernet header needs 14 bytes, {f.Length} present" };
        p = p with { DstMac = Mac(f[..6]), SrcMac = Mac(f[6..12]) };

        int at = 12;
        ushort etherType = Bytes.ReadBe16(f, at);
        var vlans = new List<VlanTag>();
        while ((etherType == EtherTypes.Vlan || etherType == EtherTypes.QinQ) && vlans.Count < MaxVlanTags)
        {
            if (f.Length < at + 6)
                return p with { Vlans = vlans, Problem = $"VLAN tag at {at} needs 4 bytes" };
            ushort tci = Bytes.ReadBe16(f, at + 2);
            vlans.Add(new VlanTag((ushort)(tci & 0xfff), etherType, (byte)(tci >> 13)));
            at += 4;
            etherType = Bytes.ReadBe16(f, at);
        }
        at += 2;
        p = p with { Vlans = vlans, EtherType = etherType, PayloadOffset = at };

        return etherType switch
        {
            EtherTypes.Ipv4 => ParseIpv4(f, at, p),
            EtherTypes.Ipv6 => ParseIpv6(f, at, p),
            _ => p,
        };
    }

    static ParsedFrame ParseIpv4(ReadOnlySpan<byte> f, int at, ParsedFrame p)
    {
        if (f.Length < at + 20)
            return p with { Problem = $"IPv4 header needs 20 bytes, {f.Length - at} present" };
        int ihl = f[at] & 0xf;
        int headerLength = Math.Max(ihl * 4, 20);
        bool whole = f.Length >= at + headerLength;
        ushort fragment = Bytes.ReadBe16(f, at + 6);
        var ip = new ParsedIpv4(
            Version: f[at] >> 4, Ihl: ihl, TotalLength: Bytes.ReadBe16(f, at + 2), Id: Bytes.ReadBe16(f, at + 4),
            DontFragment: (fragment & 0x4000) != 0, MoreFragments: (fragment & 0x2000) != 0,
            FragmentOffset: (ushort)(fragment & 0x1fff), Ttl: f[at + 8], Protocol: f[at + 9],
            Checksum: Bytes.ReadBe16(f, at + 10),
            ChecksumOk: whole && InternetChecksum.Verify(f.Slice(at, headerLength)),
            Src: new IPAddress(f.Slice(at + 12, 4)), Dst: new IPAddress(f.Slice(at + 16, 4)),
            Options: whole ? f.Slice(at + 20, headerLength - 20).ToArray() : []);
        p = p with { Ipv4 = ip, NonFirstFragment = ip.FragmentOffset != 0, PayloadOffset = at + headerLength };
        if (!whole)
            return p with { Problem = $"IPv4 header with IHL {ihl} needs {headerLength} bytes, {f.Length - at} present" };
        if (ip.FragmentOffset != 0)
            return p;
        int end = Math.Min(f.Length, at + Math.Max((int)ip.TotalLength, headerLength));
        return ParseTransport(f[..end], at + headerLength, ip.Protocol, p);
    }

    static ParsedFrame ParseIpv6(ReadOnlySpan<byte> f, int at, ParsedFrame p)
    {
        if (f.Length < at + 40)
            return p with { Problem = $"IPv6 header needs 40 bytes, {f.Length - at} present" };
        uint word0 = Bytes.ReadBe32(f, at);
        byte next = f[at + 6];
        var exts = new List<ParsedExt>();
        int cur = at + 40;
        string? problem = null;
        bool nonFirst = false;
        while (IsExtension(next) && exts.Count < MaxExtensions)
        {
            if (f.Length < cur + 8)
            {
                problem = $"extension header {next} at {cur} needs 8 bytes, {f.Length - cur} present";
                break;
            }
            ParsedExt e;
            if (next == IpProtocols.Fragment)
            {
                ushort field = Bytes.ReadBe16(f, cur + 2);
                e = new ParsedExt(next, f[cur], 8, (ushort)(field >> 3), (field & 1) != 0);
            }
            else
            {
                int length = next == IpProtocols.Ah ? (f[cur + 1] + 2) * 4 : (f[cur + 1] + 1) * 8;
                e = new ParsedExt(next, f[cur], length);
            }
            exts.Add(e);
            if (f.Length < cur + e.Length)
            {
                problem = $"extension header {next} at {cur} needs {e.Length} bytes, {f.Length - cur} present";
                break;
            }
            cur += e.Length;
            next = e.NextHeader;
            if (e.FragmentOffset is > 0)
            {
                nonFirst = true;
                break;
            }
        }
        var ip = new ParsedIpv6(
            Version: (int)(word0 >> 28), TrafficClass: (byte)(word0 >> 20), FlowLabel: word0 & 0xfffff,
            PayloadLength: Bytes.ReadBe16(f, at + 4), NextHeader: f[at + 6], HopLimit: f[at + 7],
            Src: new IPAddress(f.Slice(at + 8, 16)), Dst: new IPAddress(f.Slice(at + 24, 16)),
            Extensions: exts, Protocol: next);
        p = p with { Ipv6 = ip, NonFirstFragment = nonFirst, PayloadOffset = cur, Problem = problem };
        if (problem is not null || nonFirst || IsExtension(next))
            return p;
        int end = Math.Min(f.Length, at + 40 + ip.PayloadLength);
        if (end < cur)
            end = f.Length; // a payload length shorter than the chain: checksum what is there
        return ParseTransport(f[..end], cur, next, p);
    }

    static bool IsExtension(byte type) =>
        type is IpProtocols.HopByHop or IpProtocols.Routing or IpProtocols.Fragment or IpProtocols.Ah
            or IpProtocols.DestOptions;

    /// <param name="f">The frame cut at the end of the IP packet, so checksums cover exactly the segment.</param>
    static ParsedFrame ParseTransport(ReadOnlySpan<byte> f, int at, byte protocol, ParsedFrame p)
    {
        var segment = f[at..];
        uint pseudo = PseudoHeaderSum(p, protocol, segment.Length);
        switch (protocol)
        {
            case IpProtocols.Tcp:
                if (segment.Length < 20)
                    return p with { Problem = $"TCP header needs 20 bytes, {segment.Length} present" };
                return p with
                {
                    Tcp = new ParsedTcp(Bytes.ReadBe16(segment, 0), Bytes.ReadBe16(segment, 2),
                        Bytes.ReadBe32(segment, 4), Bytes.ReadBe32(segment, 8), segment[12] >> 4,
                        (TcpFlags)segment[13], Bytes.ReadBe16(segment, 14), Bytes.ReadBe16(segment, 16),
                        InternetChecksum.Verify(segment, pseudo)),
                    PayloadOffset = at + Math.Clamp((segment[12] >> 4) * 4, 20, segment.Length),
                };
            case IpProtocols.Udp:
                if (segment.Length < 8)
                    return p with { Problem = $"UDP header needs 8 bytes, {segment.Length} present" };
                return p with
                {
                    Udp = new ParsedUdp(Bytes.ReadBe16(segment, 0), Bytes.ReadBe16(segment, 2),
                        Bytes.ReadBe16(segment, 4), Bytes.ReadBe16(segment, 6),
                        InternetChecksum.Verify(segment, pseudo)),
                    PayloadOffset = at + 8,
                };
            case IpProtocols.Icmp or IpProtocols.IcmpV6:
                if (segment.Length < 8)
                    return p with { Problem = $"ICMP header needs 8 bytes, {segment.Length} present" };
                bool v6 = protocol == IpProtocols.IcmpV6;
                return p with
                {
                    Icmp = new ParsedIcmp(v6, segment[0], segment[1], Bytes.ReadBe16(segment, 2),
                        InternetChecksum.Verify(segment, v6 && p.Ipv6 is not null ? pseudo : 0)),
                    PayloadOffset = at + 8,
                };
            default:
                return p with { PayloadOffset = at };
        }
    }

    static uint PseudoHeaderSum(ParsedFrame p, byte protocol, int length)
    {
        Span<byte> b = stackalloc byte[40];
        b.Clear();
        if (p.Ipv4 is { } v4)
        {
            v4.Src.TryWriteBytes(b[..4], out _);
            v4.Dst.TryWriteBytes(b[4..8], out _);
            b[9] = protocol;
            b[10] = (byte)(length >> 8);
            b[11] = (byte)length;
            return InternetChecksum.Sum(b[..12]);
        }
        var v6 = p.Ipv6!;
        v6.Src.TryWriteBytes(b[..16], out _);
        v6.Dst.TryWriteBytes(b[16..32], out _);
        b[34] = (byte)(length >> 8);
        b[35] = (byte)length;
        b[39] = protocol;
        return InternetChecksum.Sum(b);
    }

    static string Mac(ReadOnlySpan<byte> b) => Convert.ToHexString(b).ToLowerInvariant()
        .Chunk(2).Select(c => new string(c)).Aggregate((x, y) => x + ":" + y);
}

/// <summary>Frames as hex text, so a failing case can be printed and replayed.</summary>
public static class FrameHex
{
    public static string Format(ReadOnlySpan<byte> frame) => Convert.ToHexString(frame).ToLowerInvariant();

    /// <summary>Reads hex digits, ignoring whitespace, colons and a leading "0x".</summary>
    public static byte[] Parse(string hex)
    {
        var digits = new StringBuilder();
        string s = hex.Trim();
        if (s.StartsWith("0x", StringComparison.OrdinalIgnoreCase))
            s = s[2..];
        foreach (char c in s)
            if (!char.IsWhiteSpace(c) && c != ':')
                digits.Append(c);
        return Convert.FromHexString(digits.ToString());
    }
}
