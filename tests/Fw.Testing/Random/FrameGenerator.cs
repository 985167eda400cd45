using System.Net;
using Fw.Rules;
using Fw.Packets;

namespace Fw.Testing.Random;

/// <summary>
/// Random frames for a ruleset, reproducible from a seed and biased toward the ruleset's boundaries:
/// addresses at prefix starts and ends and one step outside them, ports at range endpoints ±1, the TCP flag
/// combinations the rules test with one bit flipped, ICMP types ±1, the rules' protocols. Mixed in: VLAN
/// tags (sometimes a third), IPv4 options, IPv6 extension chains (0-9 headers), first and non-first
/// fragments, truncation at every layer, wrong IHL, wrong IPv4 and IPv6 versions, IPv4 under the IPv6
/// EtherType and the reverse, bogus extension lengths, non-IP frames, frames shorter than an Ethernet header,
/// ICMP in IPv6 and ICMPv6 in IPv4. <see cref="NextMultiBuffer"/> draws multi-buffer frames, jumbo ones too.
/// </summary>
public sealed class FrameGenerator
{
    readonly System.Random _rng;
    readonly IReadOnlyList<Rule> _rules;
    // Everything the rules mention, for frames aimed at no rule in particular.
    readonly List<IpPrefix> _prefixes;
    readonly List<PortRange> _ports;
    readonly List<TcpFlagsMatch> _flags;
    readonly List<byte> _icmpTypes;
    readonly List<byte> _protos;

    // Entries of live sets to aim at as if they were the sets' prefixes, by set name (empty: none).
    readonly IReadOnlyDictionary<string, IReadOnlyList<IpPrefix>> _live;

    public FrameGenerator(Ruleset rs, int seed) : this(rs, seed, null)
    {
    }

    /// <param name="liveEntries">
    /// Entries of the ruleset's live sets (by set name) that frames should hit, near and outside their edges as
    /// any prefix a rule names: a rule naming the set aims at them.
    /// </param>
    public FrameGenerator(Ruleset rs, int seed, IReadOnlyDictionary<string, IReadOnlyList<IpPrefix>>? liveEntries)
    {
        _rng = new System.Random(seed);
        _rules = rs.Rules;
        _live = liveEntries ?? new Dictionary<string, IReadOnlyList<IpPrefix>>();
        _prefixes = rs.Sets.Values.SelectMany(s => s.Prefixes)
            .Concat(rs.Rules.SelectMany(r => (r.Src?.Prefixes ?? []).Concat(r.Dst?.Prefixes ?? [])))
            .Concat(_live.Values.SelectMany(e => e))
            .Distinct().Order().ToList();
        _ports = rs.Rules.SelectMany(r => (r.Sport ?? []).Concat(r.Dport ?? [])).Distinct().ToList();
        _flags = rs.Rules.Where(r => r.TcpFlags is not null).Select(r => r.TcpFlags!.Value).Distinct().ToList();
        _icmpTypes = rs.Rules.SelectMany(r => r.IcmpType ?? []).Distinct().Order().ToList();
        _protos = rs.Rules.SelectMany(r => r.Proto ?? []).Distinct().Order().ToList();
    }

    /// <summary>The next frame's bytes.</summary>
    public byte[] Next() => NextFrame().Bytes;

    /// <summary>
    /// The next frame as a multi-buffer XDP frame: its bytes (sometimes jumbo, or IPv6 with kilobytes of
    /// extension headers, <see cref="FirstBuffers.Grow"/>) and its first buffer's length, at most
    /// <paramref name="maxFirstBuffer"/>, often at or by a header's end (<see cref="FirstBuffers.Pick"/>).
    /// </summary>
    public (byte[] Bytes, int FirstBuffer) NextMultiBuffer(int maxFirstBuffer)
    {
        var (bytes, frame) = NextFrame();
        if (frame is null)
            return (bytes, Math.Min(bytes.Length, maxFirstBuffer));
        (frame, _) = FirstBuffers.Grow(_rng, frame);
        var layout = frame.Layout();
        bytes = layout.Bytes;
        return (bytes, FirstBuffers.Pick(_rng, layout, FirstBuffers.ExtensionEnds(frame, layout), bytes.Length, maxFirstBuffer));
    }

    /// <summary>
    /// The next frame and the description it was built from, for reading a failure (the bytes are the truth);
    /// null for a frame shorter than an Ethernet header, which is random bytes.
    /// </summary>
    public (byte[] Bytes, Frame? Description) NextFrame()
    {
        int kind = _rng.Next(100);
        if (kind < 2)
            return (Bytes(_rng.Next(14)), null); // shorter than an Ethernet header
        if (kind < 6)
        {
            var nonIp = NonIp();
            return (nonIp.Build(), nonIp);
        }

        var frame = IpFrame();
        frame = AddVlans(frame);
        var layout = frame.Layout();
        if (_rng.Next(100) < 12)
        {
            frame = frame.Truncated(TruncationPoint(layout));
            layout = frame.Layout();
        }
        return (layout.Bytes, frame);
    }

    Frame NonIp()
    {
        switch (_rng.Next(4))
        {
            case 0:
                return Frame.Arp(V4Text(AddressPools.Address(_rng, IpFamily.V4)), V4Text(AddressPools.Address(_rng, IpFamily.V4)));
            case 1:
                return Frame.Raw(EtherTypes.Lldp, Bytes(_rng.Next(60)));
            case 2:
                ushort type = (ushort)_rng.Next(0x10000);
                if (type is EtherTypes.Ipv4 or EtherTypes.Ipv6 or EtherTypes.Vlan or EtherTypes.QinQ)
                    type = EtherTypes.Arp;
                return Frame.Raw(type, Bytes(_rng.Next(60)));
            default:
                return Frame.Arp("192.0.2.1", "192.0.2.2").WithVlan((ushort)_rng.Next(4096));
        }
    }

    /// <summary>
    /// Six times in ten the frame is aimed at one rule: every field drawn from that rule's own values, at or
    /// near their edges (so later rules get hit too, not only the broad early ones); otherwise from
    /// everything the ruleset mentions, or from nothing.
    /// </summary>
    Frame IpFrame()
    {
        Rule? target = _rules.Count > 0 && _rng.Next(10) < 6 ? _rules[_rng.Next(_rules.Count)] : null;
        var family = Family(target);
        var src = ToAddress(family, Address(family, target?.Src));
        var dst = ToAddress(family, Address(family, target?.Dst));
        byte proto = target?.Proto is { Count: > 0 } protos && _rng.Next(10) < 9
            ? protos[_rng.Next(protos.Count)]
            : Protocol(family);

        Frame f = proto switch
        {
            IpProtocols.Tcp => Frame.Tcp(src, dst, Port(target?.Sport), Port(target?.Dport), Flags(target?.TcpFlags)),
            IpProtocols.Udp => Frame.Udp(src, dst, Port(target?.Sport), Port(target?.Dport)),
            IpProtocols.Icmp => Frame.Icmp(src, dst, IcmpType(target?.IcmpType), (byte)_rng.Next(3)),
            IpProtocols.IcmpV6 => Frame.Icmpv6(src, dst, IcmpType(target?.IcmpType), (byte)_rng.Next(3)),
            _ => Frame.Ip(src, dst, proto, Bytes(_rng.Next(24))),
        };
        if (f.Transport is not null && _rng.Next(3) == 0)
            f = f.WithPayload(Bytes(_rng.Next(40)));

        f = family == IpFamily.V4 ? Ipv4Oddities(f) : Ipv6Oddities(f);
        // One IP version under the other's EtherType (a header's version nibble disagrees: malformed).
        if (_rng.Next(100) < 1)
            f = f.WithEtherType(family == IpFamily.V4 ? EtherTypes.Ipv6 : EtherTypes.Ipv4);
        return f;
    }

    /// <summary>A family the target's src and dst both allow, when there is one.</summary>
    IpFamily Family(Rule? target)
    {
        var families = new List<IpFamily>();
        foreach (var family in new[] { IpFamily.V4, IpFamily.V6 })
            if (Allows(target?.Src, family) && Allows(target?.Dst, family))
                families.Add(family);
        if (families.Count == 0 || _rng.Next(20) == 0)
            return _rng.Next(2) == 0 ? IpFamily.V4 : IpFamily.V6;
        return families[_rng.Next(families.Count)];
    }

    bool Allows(AddressMatch? field, IpFamily family) =>
        field is null || PrefixesOf(field).Any(p => p.Family == family);

    /// <summary>The field's prefixes, its static sets' and the entries given for its live sets.</summary>
    IEnumerable<IpPrefix> PrefixesOf(AddressMatch field) =>
        _live.Count == 0 ? field.AllPrefixes()
            : field.AllPrefixes().Concat(field.Sets.Where(s => s.Dynamic).SelectMany(s => _live.TryGetValue(s.Name, out var e) ? e : []));

    Frame Ipv4Oddities(Frame f)
    {
        if (_rng.Next(100) < 15)
            f = f.WithIpOptions(IpOptions());
        int r = _rng.Next(100);
        if (r < 8)
            f = f.AsFragment(0, more: true); // first fragment: matched normally
        else if (r < 18)
            f = f.AsFragment(NonZeroOffset(), more: _rng.Next(2) == 0);
        if (_rng.Next(100) < 4)
            f = f.WithIpv4(h => h with { Ihl = _rng.Next(16) });
        if (_rng.Next(100) < 3)
            f = f.WithIpv4(h => h with { Version = _rng.Next(16) });
        return f;
    }

    Frame Ipv6Oddities(Frame f)
    {
        if (_rng.Next(100) < 30)
        {
            int count = AddressPools.Weighted(_rng, [(1, 10), (2, 8), (3, 5), (4, 2), (7, 1), (8, 3), (9, 3)]);
            var chain = new Ipv6Ext[count];
            for (int i = 0; i < count; i++)
                chain[i] = Extension();
            f = f.WithExtensions(chain);
        }
        int r = _rng.Next(100);
        if (r < 5)
            f = f.AsFragment(0, more: true);
        else if (r < 13)
            f = f.AsFragment(NonZeroOffset(), more: _rng.Next(2) == 0);
        if (_rng.Next(100) < 3)
            f = f.WithIpv6(h => h with { Version = _rng.Next(16) }); // malformed unless 6
        return f;
    }

    Ipv6Ext Extension()
    {
        var e = _rng.Next(10) switch
        {
            < 3 => Ipv6Ext.HopByHop(8 * (1 + _rng.Next(3))),
            < 5 => Ipv6Ext.DestOptions(8 * (1 + _rng.Next(3))),
            < 7 => Ipv6Ext.Routing(8 * (1 + _rng.Next(3))),
            < 8 => Ipv6Ext.Ah(4 * _rng.Next(5)),
            _ => Ipv6Ext.Fragment(_rng.Next(3) == 0 ? NonZeroOffset() : (ushort)0, more: _rng.Next(2) == 0),
        };
        if (_rng.Next(100) < 4)
            e = e with { LengthField = (byte)_rng.Next(256) }; // bogus: usually runs past the frame
        return e;
    }

    Frame AddVlans(Frame f)
    {
        int tags = AddressPools.Weighted(_rng, [(0, 70), (1, 15), (2, 12), (3, 3)]);
        for (int i = 0; i < tags; i++)
            f = f.WithVlan((ushort)(_rng.Next(3) == 0 ? _rng.Next(4096) : 100 + i), _rng.Next(2) == 0 ? EtherTypes.Vlan : EtherTypes.QinQ);
        return f;
    }

    /// <summary>Somewhere in one of the layers, often a byte short of or exactly at its end.</summary>
    int TruncationPoint(FrameLayout l)
    {
        var starts = new List<int> { 12, l.L2End };
        if (l.NetworkOffset >= 0)
            starts.Add(l.NetworkOffset);
        if (l.TransportOffset >= 0)
            starts.Add(l.TransportOffset);
        starts.Add(l.PayloadOffset);
        starts.Add(l.FullLength);
        starts = starts.Distinct().Order().ToList();
        int i = _rng.Next(starts.Count - 1);
        int start = starts[i], end = starts[i + 1];
        return _rng.Next(3) switch
        {
            0 => end - 1,
            1 => end,
            _ => start + _rng.Next(end - start + 1),
        };
    }

    // ---- Field values near the rules' boundaries ----------------------------------------------

    /// <summary>An address at the edge of (or one step outside, or inside) a prefix of the field, else of any rule.</summary>
    UInt128 Address(IpFamily family, AddressMatch? field)
    {
        var own = field is null ? [] : PrefixesOf(field).Where(p => p.Family == family).ToList();
        var prefixes = own.Count > 0 && _rng.Next(10) < 9 ? own : _prefixes.Where(p => p.Family == family).ToList();
        int r = _rng.Next(10);
        if (prefixes.Count == 0 || (own.Count == 0 && r >= 8))
            return r == 9 ? AnyAddress(family) : AddressPools.Address(_rng, family);

        var p = prefixes[_rng.Next(prefixes.Count)];
        UInt128 unit = family == IpFamily.V4 ? (UInt128)1 << 96 : 1; // one address, left-aligned
        UInt128 first = p.Bits;
        UInt128 last = p.Bits | (~IpPrefix.MaskOf(p.Length) & FamilyMask(family));
        return AddressPools.Weighted(_rng, [(0, 3), (1, 3), (2, 1), (3, 1), (4, 4)]) switch
        {
            0 => first,
            1 => last,
            2 => first - unit, // wraps below 0.0.0.0 / ::, still an address once masked
            3 => last + unit,
            _ => first | (Random128() & ~IpPrefix.MaskOf(p.Length)),
        } & FamilyMask(family);
    }

    static UInt128 FamilyMask(IpFamily family) => family == IpFamily.V4 ? IpPrefix.MaskOf(32) : UInt128.MaxValue;

    UInt128 AnyAddress(IpFamily family) => Random128() & FamilyMask(family);

    UInt128 Random128() => new((ulong)_rng.NextInt64() ^ (ulong)_rng.Next() << 63, (ulong)_rng.NextInt64() ^ (ulong)_rng.Next() << 63);

    byte Protocol(IpFamily family)
    {
        int r = _rng.Next(100);
        if (_protos.Count > 0 && r < 45)
            return _protos[_rng.Next(_protos.Count)];
        if (r < 85)
        {
            // Mostly the family's own ICMP, sometimes the other one (ICMP in IPv6, ICMPv6 in IPv4).
            byte icmp = family == IpFamily.V4 ? IpProtocols.Icmp : IpProtocols.IcmpV6;
            byte other = family == IpFamily.V4 ? IpProtocols.IcmpV6 : IpProtocols.Icmp;
            return (byte)AddressPools.Weighted(_rng, [(IpProtocols.Tcp, 8), (IpProtocols.Udp, 6), (icmp, 4), (other, 1)]);
        }
        return (byte)_rng.Next(256);
    }

    /// <summary>A range endpoint of the field (or of any rule), one past it, or inside; sometimes anything.</summary>
    ushort Port(IReadOnlyList<PortRange>? field)
    {
        var ranges = field is { Count: > 0 } && _rng.Next(10) < 9 ? field : _ports;
        if (ranges.Count == 0 || _rng.Next(10) == 0)
            return (ushort)(_rng.Next(2) == 0 ? _rng.Next(65536) : new[] { 0, 22, 53, 80, 443, 1024, 65535 }[_rng.Next(7)]);
        var r = ranges[_rng.Next(ranges.Count)];
        int port = AddressPools.Weighted(_rng, [(0, 3), (1, 3), (2, 1), (3, 1), (4, 2)]) switch
        {
            0 => r.Low,
            1 => r.High,
            2 => r.Low - 1,
            3 => r.High + 1,
            _ => _rng.Next(r.Low, r.High + 1),
        };
        return (ushort)Math.Clamp(port, 0, 65535);
    }

    /// <summary>Flags that satisfy the match (others random), sometimes with one tested bit flipped.</summary>
    TcpFlags Flags(TcpFlagsMatch? field)
    {
        TcpFlagsMatch? m = field is not null && _rng.Next(10) < 9 ? field
            : _flags.Count > 0 && _rng.Next(10) < 7 ? _flags[_rng.Next(_flags.Count)] : null;
        if (m is not TcpFlagsMatch match || match.Mask == 0)
            return (TcpFlags)_rng.Next(256);
        byte value = (byte)(match.Value & match.Mask | _rng.Next(256) & ~match.Mask);
        if (_rng.Next(3) == 0)
        {
            var bits = Enumerable.Range(0, 8).Where(b => (match.Mask & 1 << b) != 0).ToList();
            value ^= (byte)(1 << bits[_rng.Next(bits.Count)]);
        }
        return (TcpFlags)value;
    }

    /// <summary>A type of the field (or of any rule), ±1; sometimes anything.</summary>
    byte IcmpType(IReadOnlyList<byte>? field)
    {
        var types = field is { Count: > 0 } && _rng.Next(10) < 9 ? field : _icmpTypes;
        if (types.Count == 0 || _rng.Next(10) == 0)
            return (byte)_rng.Next(256);
        int delta = AddressPools.Weighted(_rng, [(0, 4), (-1, 1), (1, 1)]);
        return (byte)(types[_rng.Next(types.Count)] + delta); // wraps within a byte
    }

    ushort NonZeroOffset() => (ushort)(_rng.Next(2) == 0 ? 1 + _rng.Next(3) : 1 + _rng.Next(0x1fff));

    byte[] IpOptions()
    {
        // NOPs (1), then an end-of-options (0) byte; a multiple of 4 up to 40 bytes.
        var options = new byte[4 * (1 + _rng.Next(10))];
        int nops = _rng.Next(options.Length);
        for (int i = 0; i < nops; i++)
            options[i] = 1;
        return options;
    }

    byte[] Bytes(int n)
    {
        var b = new byte[n];
        _rng.NextBytes(b);
        return b;
    }

    static IPAddress ToAddress(IpFamily family, UInt128 bits) =>
        IpPrefix.Create(family, bits, family == IpFamily.V4 ? 32 : 128).ToIPAddress();

    static string V4Text(UInt128 bits) => ToAddress(IpFamily.V4, bits).ToString();
}
