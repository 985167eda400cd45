using System.Buffers.Binary;
using Fw.Packets;
using Fw.Rules;
using Fw.Testing.Reference;

namespace Fw.Testing.Random;

/// <summary>What a <see cref="FrameMutator"/> did to a valid frame.</summary>
public enum Mutation
{
    /// <summary>The valid frame as it is.</summary>
    Valid,
    /// <summary>Cut at every length below its own, one frame per length.</summary>
    Truncated,
    /// <summary>1-4 bytes changed: a bit flipped, a random byte, or a value parsers branch on.</summary>
    ByteFlip,
    /// <summary>IPv4 IHL set to each of 0-15.</summary>
    Ihl,
    /// <summary>The IP version nibble set to each of 0-15, IPv4 or IPv6 (all but 4, or 6, malformed).</summary>
    IpVersion,
    /// <summary>An IPv6 extension-header chain of 0-12 well-formed headers (past 8: malformed).</summary>
    ExtChain,
    /// <summary>A chain of 1-12 headers cut inside one of them, or at its start.</summary>
    ExtTruncated,
    /// <summary>A chain of 1-12 headers, one of whose length byte is wrong.</summary>
    ExtBadLength,
    /// <summary>0-4 VLAN tags of mixed TPIDs (0x8100, 0x88a8); a third is malformed.</summary>
    VlanStack,
    /// <summary>A first or non-first fragment (IPv4 MF/offset, IPv6 fragment header), sometimes cut after the IP header.</summary>
    Fragment,
    /// <summary>Random bytes, mostly under an IPv4, IPv6 or VLAN EtherType so parsing gets past Ethernet.</summary>
    RandomBytes,
    /// <summary>
    /// A multi-buffer frame (<see cref="Mutant.FirstBuffer"/>), sometimes jumbo or with kilobytes of IPv6
    /// extension headers, whose first buffer ends at, by or inside a header, or as far as a page takes.
    /// </summary>
    FirstBuffer,
}

/// <summary>
/// One mutated frame. <paramref name="Variant"/> is a short label from a small set ("ihl=3", "headers=9",
/// "tags=3", "v6 non-first", "in L4 header") for counting what the mutations reached; <paramref name="Detail"/>
/// says exactly what was done; <paramref name="Base"/> is the valid frame it came from (null for random bytes).
/// </summary>
public sealed record Mutant(byte[] Bytes, Mutation Kind, string Variant, string Detail, byte[]? Base)
{
    /// <summary>A multi-buffer frame's first buffer, in bytes (the rest are in fragments); null: one buffer.</summary>
    public int? FirstBuffer { get; init; }
}

/// <summary>
/// Bad input for the data plane, reproducible from a seed: valid frames from a <see cref="FrameGenerator"/>
/// for the ruleset (so the rules' boundaries are near), each turned into one or more mutants, see
/// <see cref="Mutation"/>. "Valid" means the rules contract parses it as an IP or a non-IP frame
/// (<see cref="ReferenceEvaluator.Parse(ReadOnlySpan{byte})"/>, not malformed); the mutants are anything. Frames
/// stay under 1,500 bytes but <see cref="Mutation.FirstBuffer"/>'s jumbo ones (up to 9,014), and
/// BPF_PROG_TEST_RUN takes every one of 14 bytes or more.
/// </summary>
public sealed class FrameMutator
{
    public const int MaxChain = 12;
    public const int MaxTags = 4;

    readonly System.Random _rng;
    readonly FrameGenerator _source;
    readonly Queue<Mutant> _pending = new();
    readonly int _maxFirstBuffer;

    /// <param name="maxFirstBuffer">The longest first buffer of a multi-buffer mutant (BPF_PROG_TEST_RUN's, a page's worth).</param>
    public FrameMutator(Ruleset rs, int seed, int maxFirstBuffer = 3520)
    {
        _maxFirstBuffer = maxFirstBuffer;
        _rng = new System.Random(seed);
        _source = new FrameGenerator(rs, seed);
    }

    /// <summary>The next mutant (sweeps such as every truncation of one frame come out one at a time).</summary>
    public Mutant Next()
    {
        while (_pending.Count == 0)
            Refill();
        return _pending.Dequeue();
    }

    // Weights per draw; a sweep draw yields many frames (a truncation sweep ~80, IHL and version 16 each).
    static readonly (int Value, int Weight)[] Kinds =
    [
        ((int)Mutation.Valid, 8), ((int)Mutation.Truncated, 1), ((int)Mutation.ByteFlip, 50), ((int)Mutation.Ihl, 2),
        ((int)Mutation.IpVersion, 1), ((int)Mutation.ExtChain, 25), ((int)Mutation.ExtTruncated, 15),
        ((int)Mutation.ExtBadLength, 15), ((int)Mutation.VlanStack, 25), ((int)Mutation.Fragment, 25),
        ((int)Mutation.RandomBytes, 15), ((int)Mutation.FirstBuffer, 15),
    ];

    void Refill()
    {
        switch ((Mutation)AddressPools.Weighted(_rng, Kinds))
        {
            case Mutation.Valid:
                var (valid, _) = Base(_ => true);
                Add(valid, Mutation.Valid, "valid", "the valid frame", valid);
                break;
            case Mutation.Truncated:
                Truncations();
                break;
            case Mutation.ByteFlip:
                ByteFlips();
                break;
            case Mutation.Ihl:
                Ihls();
                break;
            case Mutation.IpVersion:
                Versions();
                break;
            case Mutation.ExtChain:
                ExtensionChain(Mutation.ExtChain);
                break;
            case Mutation.ExtTruncated:
                ExtensionChain(Mutation.ExtTruncated);
                break;
            case Mutation.ExtBadLength:
                ExtensionChain(Mutation.ExtBadLength);
                break;
            case Mutation.VlanStack:
                VlanStack();
                break;
            case Mutation.Fragment:
                Fragment();
                break;
            case Mutation.FirstBuffer:
                FirstBuffer();
                break;
            default:
                RandomBytes();
                break;
        }
    }

    void Add(byte[] bytes, Mutation kind, string variant, string detail, byte[]? baseBytes) =>
        _pending.Enqueue(new Mutant(bytes, kind, variant, detail, baseBytes));

    /// <summary>A valid frame from the generator that <paramref name="want"/> accepts.</summary>
    (byte[] Bytes, Frame Frame) Base(Func<Frame, bool> want)
    {
        for (int i = 0; i < 10_000; i++)
        {
            var (bytes, frame) = _source.NextFrame();
            if (frame is null || !want(frame) || ReferenceEvaluator.Parse(bytes).Kind == FrameKind.Malformed)
                continue;
            // A frame the generator cut inside its payload is valid whole too; the mutations cut their own.
            frame = frame with { TruncateTo = null };
            return (frame.Build(), frame);
        }
        throw new InvalidOperationException("the frame generator gave no valid frame of the kind wanted");
    }

    static bool IsV4(Frame f) => f.Network is Ipv4Header;

    static bool IsV6(Frame f) => f.Network is Ipv6Header;

    // ---- Truncations ----------------------------------------------------------------------------

    void Truncations()
    {
        var (bytes, frame) = Base(_ => true);
        var layout = frame.Layout();
        for (int n = 0; n < bytes.Length; n++)
            Add(bytes[..n], Mutation.Truncated, CutLayer(layout, n), $"cut to {n} of {bytes.Length} bytes", bytes);
    }

    /// <summary>The layer a cut at <paramref name="n"/> bytes falls in.</summary>
    static string CutLayer(FrameLayout l, int n)
    {
        if (n < 14)
            return "under 14 bytes";
        if (n < l.L2End)
            return "in VLAN tags";
        int networkEnd = l.TransportOffset >= 0 ? l.TransportOffset : l.PayloadOffset;
        if (l.NetworkOffset >= 0 && n < networkEnd)
            return "in IP header";
        if (l.TransportOffset >= 0 && n < l.PayloadOffset)
            return "in L4 header";
        return "in payload";
    }

    // ---- Byte changes ---------------------------------------------------------------------------

    // Values parsers branch on: versions/IHLs, TPIDs and EtherTypes, protocols and extension types, extremes.
    static readonly byte[] Interesting =
        [0x00, 0xff, 0x45, 0x4f, 0x40, 0x44, 0x60, 0x81, 0x88, 0xa8, 0x08, 0x86, 0xdd, 0x01, 0x06, 0x11, 0x3a, 0x2b, 0x2c, 0x33, 0x3c, 0x1f, 0x20];

    void ByteFlips()
    {
        var (original, frame) = Base(_ => true);
        var b = (byte[])original.Clone();
        var offsets = InterestingOffsets(frame, b.Length);
        int headerEnd = Math.Min(b.Length, frame.Layout().PayloadOffset + 4);
        int changes = 1 + _rng.Next(4);
        var what = new List<string>();
        for (int i = 0; i < changes; i++)
        {
            int at = _rng.Next(10) switch
            {
                < 4 when offsets.Count > 0 => offsets[_rng.Next(offsets.Count)],
                < 8 => _rng.Next(headerEnd),
                _ => _rng.Next(b.Length),
            };
            byte old = b[at];
            b[at] = _rng.Next(4) switch
            {
                < 2 => (byte)(old ^ 1 << _rng.Next(8)),
                2 => (byte)_rng.Next(256),
                _ => Interesting[_rng.Next(Interesting.Length)],
            };
            what.Add($"byte {at}: 0x{old:x2} -> 0x{b[at]:x2}");
        }
        Add(b, Mutation.ByteFlip, $"changes={changes}", string.Join(", ", what), original);
    }

    /// <summary>Offsets of the bytes the parsers read: EtherTypes, version/IHL, fragment bits, protocols, extension headers, TCP flags.</summary>
    static List<int> InterestingOffsets(Frame f, int length)
    {
        var l = f.Layout();
        var at = new List<int> { 12, 13 };
        for (int tag = 14; tag + 4 <= l.L2End; tag += 4)
            at.AddRange([tag + 2, tag + 3]);
        int n = l.NetworkOffset;
        if (f.Network is Ipv4Header)
            at.AddRange([n, n + 6, n + 7, n + 9]);
        if (f.Network is Ipv6Header v6)
        {
            at.AddRange([n, n + 6]);
            int e = n + 40;
            foreach (var ext in v6.Extensions)
            {
                at.AddRange([e, e + 1, e + 2, e + 3]);
                e += ext.Size;
            }
        }
        if (f.Transport is TcpHeader)
            at.AddRange([l.TransportOffset + 12, l.TransportOffset + 13]);
        else if (f.Transport is not null)
            at.Add(l.TransportOffset);
        return at.Where(o => o >= 0 && o < length).ToList();
    }

    // ---- IPv4 IHL and the version nibble --------------------------------------------------------

    void Ihls()
    {
        var (original, frame) = Base(IsV4);
        int n = frame.Layout().NetworkOffset;
        int own = original[n] & 0x0f;
        for (int ihl = 0; ihl < 16; ihl++)
        {
            var b = (byte[])original.Clone();
            b[n] = (byte)(b[n] & 0xf0 | ihl);
            Add(b, Mutation.Ihl, $"ihl={ihl}", $"IHL {own} -> {ihl}", original);
        }
    }

    void Versions()
    {
        bool v4 = _rng.Next(2) == 0;
        var (original, frame) = Base(v4 ? IsV4 : IsV6);
        int n = frame.Layout().NetworkOffset;
        string family = v4 ? "IPv4" : "IPv6";
        // Every version: only 4 (IPv4) or 6 (IPv6) is not malformed.
        foreach (int version in Enumerable.Range(0, 16))
        {
            var b = (byte[])original.Clone();
            b[n] = (byte)(version << 4 | b[n] & 0x0f);
            Add(b, Mutation.IpVersion, $"{family} version={version}", $"{family} version {version}", original);
        }
    }

    // ---- IPv6 extension-header chains -----------------------------------------------------------

    void ExtensionChain(Mutation kind)
    {
        var (original, frame) = Base(IsV6);
        int count = _rng.Next(kind == Mutation.ExtChain ? 0 : 1, MaxChain + 1);
        var chain = new List<Ipv6Ext>();
        for (int i = 0; i < count; i++)
            chain.Add(Extension());

        string detail = $"{count} extension headers: {string.Join(" ", chain.Select(Describe))}";
        if (kind == Mutation.ExtBadLength)
        {
            int i = _rng.Next(count);
            int own = LengthByte(chain[i]);
            byte wrong = _rng.Next(4) switch
            {
                0 => (byte)(own + 1),
                1 => (byte)(own == 0 ? 255 : own - 1),
                2 => 255,
                _ => (byte)_rng.Next(256),
            };
            chain[i] = chain[i] with { LengthField = wrong };
            detail += $"; header {i + 1} length byte {own} -> {wrong}";
        }

        var mutated = frame.WithIpv6(h => h with { Extensions = chain });
        var layout = mutated.Layout();
        byte[] bytes = layout.Bytes;
        if (kind == Mutation.ExtTruncated)
        {
            int i = _rng.Next(count);
            int start = layout.NetworkOffset + 40 + chain.Take(i).Sum(e => e.Size);
            int cut = start + (_rng.Next(4) == 0 ? 0 : 1 + _rng.Next(chain[i].Size - 1));
            bytes = bytes[..cut];
            detail += $"; cut to {cut} bytes, {cut - start} into header {i + 1}";
        }
        Add(bytes, kind, $"headers={count}", detail, original);
    }

    /// <summary>A well-formed extension header of a random type; a fragment header mostly with offset 0 (the chain goes on).</summary>
    Ipv6Ext Extension() => _rng.Next(9) switch
    {
        < 2 => Ipv6Ext.HopByHop(8 * (1 + _rng.Next(3))),
        < 4 => Ipv6Ext.DestOptions(8 * (1 + _rng.Next(3))),
        < 6 => Ipv6Ext.Routing(8 * (1 + _rng.Next(3))),
        < 7 => Ipv6Ext.Ah(4 * _rng.Next(4)),
        _ => Ipv6Ext.Fragment(_rng.Next(8) == 0 ? NonZeroOffset() : (ushort)0, more: _rng.Next(2) == 0),
    };

    /// <summary>The length byte a well-formed header carries: (len + 1) * 8 bytes, AH (len + 2) * 4, fragment 0 (reserved).</summary>
    static int LengthByte(Ipv6Ext e) => e.Type switch
    {
        IpProtocols.Fragment => 0,
        IpProtocols.Ah => e.Size / 4 - 2,
        _ => e.Size / 8 - 1,
    };

    static string Describe(Ipv6Ext e) => e.Type switch
    {
        IpProtocols.HopByHop => $"hbh({e.Size})",
        IpProtocols.DestOptions => $"dst({e.Size})",
        IpProtocols.Routing => $"rt({e.Size})",
        IpProtocols.Ah => $"ah({e.Size})",
        _ => $"frag(off {BinaryPrimitives.ReadUInt16BigEndian(e.Data) >> 3})",
    };

    // ---- VLAN stacks ----------------------------------------------------------------------------

    void VlanStack()
    {
        var (original, frame) = Base(_ => true);
        int count = _rng.Next(MaxTags + 1);
        var tags = new List<VlanTag>();
        for (int i = 0; i < count; i++)
            tags.Add(new VlanTag((ushort)_rng.Next(4096), _rng.Next(2) == 0 ? EtherTypes.Vlan : EtherTypes.QinQ, (byte)_rng.Next(8)));
        var mutated = frame with { Vlans = tags };
        byte[] bytes = mutated.Build();
        string detail = $"{count} tags: {string.Join(" ", tags.Select(t => $"{t.Tpid:x4}/{t.Id}"))}";
        if (count > 0 && _rng.Next(6) == 0)
        {
            int cut = 12 + _rng.Next(4 * count + 2);
            bytes = bytes[..cut];
            detail += $"; cut to {cut} bytes";
        }
        Add(bytes, Mutation.VlanStack, $"tags={count}", detail, original);
    }

    // ---- Fragments ------------------------------------------------------------------------------

    void Fragment()
    {
        var (original, frame) = Base(f => f.Network is not null);
        bool first = _rng.Next(2) == 0;
        ushort offset = first ? (ushort)0 : NonZeroOffset();
        bool more = first || _rng.Next(2) == 0;
        Frame mutated;
        string family;
        if (frame.Network is Ipv4Header)
        {
            family = "v4";
            bool df = _rng.Next(4) == 0;
            mutated = frame.WithIpv4(h => h with { FragmentOffset = offset, MoreFragments = more, DontFragment = df });
        }
        else
        {
            // A fragment header somewhere in the chain the frame has.
            family = "v6";
            var chain = ((Ipv6Header)frame.Network!).Extensions.ToList();
            chain.Insert(_rng.Next(chain.Count + 1), Ipv6Ext.Fragment(offset, more));
            mutated = frame.WithIpv6(h => h with { Extensions = chain });
        }
        var layout = mutated.Layout();
        byte[] bytes = layout.Bytes;
        string detail = $"{(first ? "first" : "non-first")} fragment, offset {offset}, MF {(more ? 1 : 0)}";
        // Cut just after the network header: a non-first fragment needs no L4 header, a first one does.
        int l4 = layout.TransportOffset >= 0 ? layout.TransportOffset : layout.PayloadOffset;
        if (_rng.Next(3) == 0 && l4 >= 0)
        {
            int cut = Math.Min(bytes.Length, l4 + _rng.Next(9));
            bytes = bytes[..cut];
            detail += $"; cut to {cut} bytes, {cut - l4} after the IP header";
        }
        Add(bytes, Mutation.Fragment, $"{family} {(first ? "first" : "non-first")}", detail, original);
    }

    ushort NonZeroOffset() => (ushort)(_rng.Next(3) switch
    {
        0 => 1,
        1 => 0x1fff,
        _ => 1 + _rng.Next(0x1fff),
    });

    // ---- Multi-buffer frames ---------------------------------------------------------------------

    void FirstBuffer()
    {
        var (original, frame) = Base(_ => true);
        var (grown, what) = FirstBuffers.Grow(_rng, frame);
        var layout = grown.Layout();
        byte[] bytes = layout.Bytes;
        int first = FirstBuffers.Pick(_rng, layout, FirstBuffers.ExtensionEnds(grown, layout), bytes.Length, _maxFirstBuffer);
        _pending.Enqueue(new Mutant(bytes, Mutation.FirstBuffer, CutLayer(layout, first),
            $"{what}, {bytes.Length} bytes, the first {first} in the first buffer", original) { FirstBuffer = first });
    }

    // ---- Random bytes ---------------------------------------------------------------------------

    void RandomBytes()
    {
        int length = _rng.Next(20) switch
        {
            < 2 => _rng.Next(14),
            < 13 => 14 + _rng.Next(80),
            _ => 94 + _rng.Next(400),
        };
        var b = new byte[length];
        _rng.NextBytes(b);
        string variant = "any EtherType";
        if (length >= 14 && _rng.Next(10) < 7)
        {
            int at = 12;
            // Up to three tags, then IPv4 or IPv6, so the random bytes reach every parser.
            int tags = _rng.Next(3) == 0 ? 1 + _rng.Next(3) : 0;
            for (int i = 0; i < tags && at + 6 <= length; i++, at += 4)
                BinaryPrimitives.WriteUInt16BigEndian(b.AsSpan(at), _rng.Next(2) == 0 ? EtherTypes.Vlan : EtherTypes.QinQ);
            bool v4 = _rng.Next(2) == 0;
            BinaryPrimitives.WriteUInt16BigEndian(b.AsSpan(at), v4 ? EtherTypes.Ipv4 : EtherTypes.Ipv6);
            if (at + 2 < length && _rng.Next(2) == 0)
                b[at + 2] = (byte)(v4 ? 0x45 + _rng.Next(11) : 0x60); // version 4, IHL 5-15 / version 6
            variant = tags > 0 ? "under VLAN tags" : v4 ? "IPv4 EtherType" : "IPv6 EtherType";
        }
        Add(b, Mutation.RandomBytes, variant, $"{length} random bytes ({variant})", null);
    }
}
