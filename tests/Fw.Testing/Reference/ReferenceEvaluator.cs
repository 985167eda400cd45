using Fw.Rules;

namespace Fw.Testing.Reference;

// The oracle: the rules contract of issue 2 ("Semantics") written out as plain code, one sentence at a
// time, so a reader can check it against the text. It shares nothing with the compiler or the XDP
// program: no bit-vectors, no tries, no precomputed classes; a first-match loop over the rules.
// Issue 15's live sets and limits (ReferenceLiveSets, ReferenceLimits) need a clock: the overload of Evaluate
// that takes them and `now`.

public enum Reason
{
    Rule,
    Default,
    Malformed,
    NonIp,
}

/// <param name="RuleIndex">The matching rule's <see cref="Rule.Index"/>; -1 unless <paramref name="Reason"/> is Rule.</param>
public readonly record struct Result(RuleAction Action, Reason Reason, int RuleIndex)
{
    public override string ToString() => Reason == Reason.Rule ? $"{Action} (rule {RuleIndex})" : $"{Action} ({Reason})";
}

/// <summary>
/// A verdict with live sets and limits (<see cref="ReferenceEvaluator.Evaluate(Ruleset, ReadOnlySpan{byte}, ReferenceLiveSets, ReferenceLimits, ulong, int?)"/>).
/// </summary>
/// <param name="LimitsPassedOver">Rules that matched every field but not their limit, passed over before the verdict.</param>
/// <param name="LimitDecided">The deciding rule has a limit (it matched it).</param>
public readonly record struct LiveResult(Result Result, int LimitsPassedOver, bool LimitDecided)
{
    public override string ToString() => $"{Result}, {LimitsPassedOver} limits passed over{(LimitDecided ? ", decided by its limit" : "")}";
}

public enum FrameKind
{
    Ip,
    Malformed,
    NonIp,
}

/// <summary>
/// What the contract lets a rule see of a frame. Addresses are left-aligned in 128 bits as in
/// <see cref="IpPrefix.Bits"/> (an IPv4 address occupies the top 32 bits). A transport field is null when
/// the packet has no such header to read it from: a non-first fragment, or another protocol.
/// </summary>
public sealed record PacketFields
{
    public required FrameKind Kind { get; init; }
    /// <summary>For Malformed: which check failed.</summary>
    public string? Why { get; init; }
    public IpFamily Family { get; init; }
    public UInt128 Src { get; init; }
    public UInt128 Dst { get; init; }
    public byte Proto { get; init; }
    public bool NonFirstFragment { get; init; }
    public int? SrcPort { get; init; }
    public int? DstPort { get; init; }
    public byte? TcpFlags { get; init; }
    public byte? IcmpType { get; init; }
    /// <summary>Where the transport header starts in the frame; null for a non-first fragment.</summary>
    public int? TransportAt { get; init; }

    public override string ToString() => Kind switch
    {
        FrameKind.Ip => $"IPv{(int)Family} {Show(Family, Src)} > {Show(Family, Dst)} proto {Proto}"
            + (NonFirstFragment ? " non-first-fragment" : "")
            + (SrcPort is null ? "" : $" sport {SrcPort} dport {DstPort}")
            + (TcpFlags is null ? "" : $" flags 0x{TcpFlags:x2}")
            + (IcmpType is null ? "" : $" icmp_type {IcmpType}"),
        FrameKind.Malformed => $"malformed: {Why}",
        _ => "non-IP",
    };

    static string Show(IpFamily family, UInt128 bits) => IpPrefix.Create(family, bits, family == IpFamily.V4 ? 32 : 128)
        .ToIPAddress().ToString();
}

public static class ReferenceEvaluator
{
    public const int MaxVlanTags = 2;
    public const int MaxExtensionHeaders = 8;

    /// <param name="linear">
    /// The length of the frame's first buffer, for a multi-buffer XDP frame (a jumbo frame a driver spread over
    /// pages); null: the whole frame is in one buffer. The contract reads headers from the first buffer only.
    /// </param>
    public static Result Evaluate(Ruleset rs, ReadOnlySpan<byte> frame, int? linear = null)
    {
        PacketFields p = Parse(frame, linear);
        if (p.Kind == FrameKind.Malformed)
            return new Result(rs.Malformed, Reason.Malformed, -1);
        if (p.Kind == FrameKind.NonIp)
            return new Result(rs.NonIp, Reason.NonIp, -1);

        // "top to bottom; the first rule that matches decides"
        // With no flow table (ReferenceFlowTable keeps one), every packet is new.
        foreach (Rule rule in rs.Rules)
            if ((rule.State is not { } states || states.HasFlag(ConnState.New)) && Matches(rule, p))
                return new Result(rule.Action, Reason.Rule, rule.Index);
        return new Result(rs.Default, Reason.Default, -1);
    }

    /// <summary>
    /// Issue 15's evaluation, with live sets and limits at <paramref name="nowNs"/>: a src or dst field also matches
    /// an address in a live set it names (<paramref name="sets"/>); the first rule matching every field decides,
    /// unless it has a limit the packet does not match (a drop limit matches only packets over it, a pass quota
    /// only those within it): then the next rule is asked. A limit is checked, and a within packet taken from its
    /// bucket, whenever its rule matches every field, whether or not the limit then matches. After the verdict, the
    /// deciding rule's add_to puts the source into its live set. <paramref name="sets"/> and
    /// <paramref name="limits"/> are updated; without live sets or limits this is <see cref="Evaluate(Ruleset, ReadOnlySpan{byte}, int?)"/>.
    /// </summary>
    public static LiveResult Evaluate(Ruleset rs, ReadOnlySpan<byte> frame, ReferenceLiveSets sets, ReferenceLimits limits,
        ulong nowNs, int? linear = null)
    {
        PacketFields p = Parse(frame, linear);
        if (p.Kind == FrameKind.Malformed)
            return new LiveResult(new Result(rs.Malformed, Reason.Malformed, -1), 0, false);
        if (p.Kind == FrameKind.NonIp)
            return new LiveResult(new Result(rs.NonIp, Reason.NonIp, -1), 0, false);

        int passedOver = 0;
        foreach (Rule rule in rs.Rules)
        {
            if (rule.State is { } states && !states.HasFlag(ConnState.New))
                continue;
            if (!Matches(rule, p, sets, nowNs))
                continue;
            if (rule.Limit is RuleLimit limit)
            {
                bool over = limits.Check(rule.Index, limit, p.Family, p.Src, nowNs);
                bool limitMatches = rule.Action == RuleAction.Pass ? !over : over;
                if (!limitMatches)
                {
                    passedOver++;
                    continue;
                }
            }
            if (rule.AddTo is PrefixSet target)
                sets.AddTo(target.Name, p.Family, p.Src, target.Timeout, nowNs);
            return new LiveResult(new Result(rule.Action, Reason.Rule, rule.Index), passedOver, rule.Limit is not null);
        }
        return new LiveResult(new Result(rs.Default, Reason.Default, -1), passedOver, false);
    }

    // ---- Parsing, as the "Semantics" section says ------------------------------------------------

    /// <summary>
    /// "Headers are read from the frame's first buffer": a multi-buffer frame is parsed as if it ended where its
    /// first buffer does (<paramref name="linear"/> bytes). A frame that is malformed only for that is said so.
    /// </summary>
    public static PacketFields Parse(ReadOnlySpan<byte> frame, int? linear = null)
    {
        if (linear is not int n || n >= frame.Length)
            return Parse(frame);
        ArgumentOutOfRangeException.ThrowIfNegative(n, nameof(linear));
        PacketFields first = Parse(frame[..n]);
        if (first.Kind == FrameKind.Malformed && Parse(frame).Kind != FrameKind.Malformed)
            return Malformed($"headers past the first buffer of {n} bytes ({first.Why})");
        return first;
    }

    public static PacketFields Parse(ReadOnlySpan<byte> f)
    {
        // Ethernet: 6 + 6 address bytes, then the EtherType.
        if (f.Length < 14)
            return Malformed("shorter than the Ethernet header");
        int at = 12;
        int etherType = Be16(f, at);

        // Up to two VLAN tags (0x8100, 0x88a8); a third tag is malformed.
        int tags = 0;
        while (etherType == 0x8100 || etherType == 0x88a8)
        {
            if (tags == MaxVlanTags)
                return Malformed("a third VLAN tag");
            if (f.Length < at + 2 + 4)
                return Malformed("shorter than its VLAN tag");
            at += 4;
            etherType = Be16(f, at);
            tags++;
        }
        at += 2; // past the EtherType: the network header starts here

        if (etherType == 0x0800)
            return ParseIpv4(f, at);
        if (etherType == 0x86dd)
            return ParseIpv6(f, at);
        return new PacketFields { Kind = FrameKind.NonIp }; // "Any other EtherType is non-IP."
    }

    static PacketFields ParseIpv4(ReadOnlySpan<byte> f, int at)
    {
        if (f.Length - at < 20)
            return Malformed("shorter than the IPv4 header");
        int version = f[at] >> 4;
        int ihl = f[at] & 0x0f;
        if (version != 4)
            return Malformed($"IPv4 version {version}");
        if (ihl < 5)
            return Malformed($"IPv4 IHL {ihl}");
        if (f.Length - at < ihl * 4)
            return Malformed("shorter than the IPv4 header with its options");

        int fragmentOffset = Be16(f, at + 6) & 0x1fff;
        byte proto = f[at + 9];
        UInt128 src = (UInt128)Be32(f, at + 12) << 96;
        UInt128 dst = (UInt128)Be32(f, at + 16) << 96;
        bool nonFirst = fragmentOffset != 0;
        return WithTransport(f, at + ihl * 4, IpFamily.V4, src, dst, proto, nonFirst);
    }

    static PacketFields ParseIpv6(ReadOnlySpan<byte> f, int at)
    {
        if (f.Length - at < 40)
            return Malformed("shorter than the IPv6 header");
        int version = f[at] >> 4;
        if (version != 6)
            return Malformed($"IPv6 version {version}");
        byte next = f[at + 6];
        UInt128 src = Be128(f, at + 8);
        UInt128 dst = Be128(f, at + 24);

        int cur = at + 40;
        int count = 0;
        while (true)
        {
            if (next != 0 && next != 43 && next != 44 && next != 60 && next != 51)
                return WithTransport(f, cur, IpFamily.V6, src, dst, proto: next, nonFirst: false);

            if (count == MaxExtensionHeaders)
                return Malformed("a ninth IPv6 extension header");
            count++;

            if (next == 44)
            {
                // Fragment header: 8 bytes; offset in the top 13 bits of bytes 2-3.
                if (f.Length - cur < 8)
                    return Malformed("shorter than an IPv6 fragment header");
                int offset = Be16(f, cur + 2) >> 3;
                byte fragmentNext = f[cur];
                if (offset != 0)
                    return WithTransport(f, cur + 8, IpFamily.V6, src, dst, proto: fragmentNext, nonFirst: true);
                next = fragmentNext;
                cur += 8;
                continue;
            }

            // Hop-by-hop (0), routing (43), destination options (60): (len + 1) * 8 bytes.
            // AH (51): (len + 2) * 4 bytes. The length byte is the header's second.
            if (f.Length - cur < 2)
                return Malformed($"shorter than IPv6 extension header {next}");
            int length = next == 51 ? (f[cur + 1] + 2) * 4 : (f[cur + 1] + 1) * 8;
            if (f.Length - cur < length)
                return Malformed($"shorter than IPv6 extension header {next} ({length} bytes)");
            next = f[cur];
            cur += length;
        }
    }

    /// <summary>
    /// The transport fields, for a packet whose transport header would start at <paramref name="at"/>.
    /// A non-first fragment has none. Otherwise TCP needs 20 bytes, UDP 8, ICMP in IPv4 8, ICMPv6 in IPv6 8.
    /// </summary>
    static PacketFields WithTransport(ReadOnlySpan<byte> f, int at, IpFamily family, UInt128 src, UInt128 dst,
        byte proto, bool nonFirst)
    {
        var p = new PacketFields
        {
            Kind = FrameKind.Ip,
            Family = family,
            Src = src,
            Dst = dst,
            Proto = proto,
            NonFirstFragment = nonFirst,
        };
        if (nonFirst)
            return p;
        p = p with { TransportAt = at };

        int remaining = f.Length - at;
        if (proto == 6)
        {
            if (remaining < 20)
                return Malformed("shorter than the TCP header");
            return p with { SrcPort = Be16(f, at), DstPort = Be16(f, at + 2), TcpFlags = f[at + 13] };
        }
        if (proto == 17)
        {
            if (remaining < 8)
                return Malformed("shorter than the UDP header");
            return p with { SrcPort = Be16(f, at), DstPort = Be16(f, at + 2) };
        }
        if ((proto == 1 && family == IpFamily.V4) || (proto == 58 && family == IpFamily.V6))
        {
            if (remaining < 8)
                return Malformed("shorter than the ICMP header");
            return p with { IcmpType = f[at] };
        }
        return p;
    }

    // ---- Matching: every field literally ----------------------------------------------------------

    /// <summary>True when every field the rule has matches the packet (absent fields match anything).</summary>
    public static bool Matches(Rule rule, PacketFields p) => Matches(rule, p, null, 0);

    /// <summary>The same, where a live set named in src or dst holds the addresses <paramref name="sets"/> has at <paramref name="nowNs"/> (none without it).</summary>
    public static bool Matches(Rule rule, PacketFields p, ReferenceLiveSets? sets, ulong nowNs)
    {
        if (rule.Src != null && !AddressMatches(rule.Src, p.Family, p.Src, sets, nowNs))
            return false;
        if (rule.Dst != null && !AddressMatches(rule.Dst, p.Family, p.Dst, sets, nowNs))
            return false;
        if (rule.Proto != null && !rule.Proto.Contains(p.Proto))
            return false;
        if (rule.Sport != null && !PortMatches(rule.Sport, p.SrcPort))
            return false;
        if (rule.Dport != null && !PortMatches(rule.Dport, p.DstPort))
            return false;
        if (rule.TcpFlags is TcpFlagsMatch flags)
        {
            if (p.TcpFlags is not byte packetFlags)
                return false;
            if ((packetFlags & flags.Mask) != flags.Value)
                return false;
        }
        if (rule.IcmpType != null)
        {
            if (p.IcmpType is not byte type)
                return false;
            if (!rule.IcmpType.Contains(type))
                return false;
        }
        return true;
    }

    /// <summary>
    /// Any prefix of the field (its own or a static set's) of the packet's family contains the address, or a live
    /// set the field names holds it (a live set has no prefixes of its own; without <paramref name="sets"/> it is empty).
    /// </summary>
    static bool AddressMatches(AddressMatch field, IpFamily family, UInt128 address, ReferenceLiveSets? sets, ulong nowNs)
    {
        foreach (IpPrefix prefix in field.Prefixes)
            if (PrefixContains(prefix, family, address))
                return true;
        foreach (PrefixSet set in field.Sets)
        {
            if (set.Dynamic)
            {
                if (sets is not null && sets.Contains(set.Name, family, address, nowNs))
                    return true;
                continue;
            }
            foreach (IpPrefix prefix in set.Prefixes)
                if (PrefixContains(prefix, family, address))
                    return true;
        }
        return false;
    }

    static bool PrefixContains(IpPrefix prefix, IpFamily family, UInt128 address)
    {
        if (prefix.Family != family)
            return false;
        UInt128 mask = prefix.Length == 0 ? UInt128.Zero : UInt128.MaxValue << (128 - prefix.Length);
        return (address & mask) == (prefix.Bits & mask);
    }

    /// <summary>A packet without ports (non-first fragment, not TCP or UDP) matches no port field.</summary>
    static bool PortMatches(IReadOnlyList<PortRange> ranges, int? port)
    {
        if (port is not int value)
            return false;
        foreach (PortRange range in ranges)
            if (value >= range.Low && value <= range.High)
                return true;
        return false;
    }

    // ---- Bytes, network order -------------------------------------------------------------------

    static PacketFields Malformed(string why) => new() { Kind = FrameKind.Malformed, Why = why };

    static int Be16(ReadOnlySpan<byte> f, int at) => f[at] << 8 | f[at + 1];

    static uint Be32(ReadOnlySpan<byte> f, int at) => (uint)(f[at] << 24 | f[at + 1] << 16 | f[at + 2] << 8 | f[at + 3]);

    static UInt128 Be128(ReadOnlySpan<byte> f, int at)
    {
        UInt128 v = 0;
        for (int i = 0; i < 16; i++)
            v = v << 8 | f[at + i];
        return v;
    }
}
