using System.Security.Cryptography;
using System.Runtime.InteropServices;
using Fw.Rules;

namespace Fw.Compiler;

/// <summary>
/// The compiled ruleset: plain data, exactly what the kernel layer writes into the maps of one
/// generation. No kernel handles, no file names: the same rules give the same image.
/// </summary>
public sealed class MapImage
{
    public required RuleAction Default { get; init; }
    public required RuleAction Malformed { get; init; }
    public required RuleAction NonIp { get; init; }

    /// <summary>64-bit words of each rule bit-vector (ceil(rules / 64)); fw_bitmaps values are 1 + Words words.</summary>
    public required int Words { get; init; }
    public required FieldMask Fields { get; init; }
    public required IReadOnlyList<RuleEntry> Rules { get; init; }

    /// <summary>fw_bitmaps: ClassCount rows of (1 + Words) words, summary first.</summary>
    public required ulong[] Bitmaps { get; init; }
    public int ClassCount => Words == 0 ? 0 : Bitmaps.Length / (1 + Words);

    // Class arrays, null when the field is unused (the program skips the lookup).
    public uint[]? Proto { get; init; }      // 256
    public uint[]? Sport { get; init; }      // 65537, [65536] = absent
    public uint[]? Dport { get; init; }      // 65537
    public uint[]? TcpFlags { get; init; }   // 257, [256] = absent
    public uint[]? IcmpType { get; init; }   // 257
    public uint[]? State { get; init; }      // 256 (enum fw_ct_state 0-2 used)

    /// <summary>Whether the data plane keeps a flow table (some rule names state or track), and its settings.</summary>
    public ConntrackSettings? Conntrack { get; init; }

    /// <summary>The packet log's settings when something is logged, else null (no log code on the per-packet path).</summary>
    public LogSettings? Log { get; init; }

    /// <summary>The live sets by fw_sets slot (empty: none); see <see cref="LiveSetSlot"/>.</summary>
    public IReadOnlyList<LiveSetSlot> LiveSets { get; init; } = [];

    /// <summary>Live sets named in src (slots 0..SrcSets-1) and in dst (slots 8..8+DstSets-1).</summary>
    public int SrcSets { get; init; }
    public int DstSets { get; init; }

    /// <summary>The class of src set membership m (bit j: the address is in src slot j), m &gt;= 1, is SrcSetClass + m.</summary>
    public uint SrcSetClass { get; init; }
    public uint DstSetClass { get; init; }

    /// <summary>Whether some rule has a limit (the data plane checks buckets only then).</summary>
    public bool UsesLimits => Rules.Any(r => r.Limit is not null);

    /// <summary>Whether some rule has add_to.</summary>
    public bool UsesAddTo => Rules.Any(r => r.AddToSlot is not null);

    private PortTable? _sportTable, _dportTable;

    /// <summary>Sport as the maps hold it (fw_sport_dir, fw_sport_page); null when the field is unused.</summary>
    public PortTable? SportTable => Sport is null ? null : _sportTable ??= PortTable.Pack(Sport);

    /// <summary>Dport as the maps hold it (fw_dport_dir, fw_dport_page); null when the field is unused.</summary>
    public PortTable? DportTable => Dport is null ? null : _dportTable ??= PortTable.Pack(Dport);

    // Address Poptries (fw_src4_*, fw_src6_*, fw_dst4_*, fw_dst6_*), null when the field is unused;
    // when used, both families have one, built with a /0.
    public Poptrie<FwPopTail4>? Src4 { get; init; }
    public Poptrie<FwPopTail6>? Src6 { get; init; }
    public Poptrie<FwPopTail4>? Dst4 { get; init; }
    public Poptrie<FwPopTail6>? Dst6 { get; init; }

    /// <summary>Merged (prefix, class) entries the tries were built from, the /0s included.</summary>
    public int PrefixEntries =>
        (Src4?.Prefixes ?? 0) + (Src6?.Prefixes ?? 0) + (Dst4?.Prefixes ?? 0) + (Dst6?.Prefixes ?? 0);

    /// <summary>A byte field's class array (<see cref="FieldKind.Byte"/>); null when no rule uses the field.</summary>
    public uint[]? ByteClasses(MatchField f) => f.Mask switch
    {
        FieldMask.Proto => Proto,
        FieldMask.TcpFlags => TcpFlags,
        FieldMask.IcmpType => IcmpType,
        FieldMask.State => State,
        _ => throw new ArgumentException($"{f.Name} is not a byte field"),
    };

    /// <summary>A port field's flat class array (65,537 entries, <see cref="FieldKind.Port"/>); null when no rule uses the field.</summary>
    public uint[]? PortClasses(MatchField f) => f.Mask switch
    {
        FieldMask.Sport => Sport,
        FieldMask.Dport => Dport,
        _ => throw new ArgumentException($"{f.Name} is not a port field"),
    };

    /// <summary>A port field's table as the maps hold it; null when no rule uses the field.</summary>
    public PortTable? Ports(MatchField f) => f.Mask switch
    {
        FieldMask.Sport => SportTable,
        FieldMask.Dport => DportTable,
        _ => throw new ArgumentException($"{f.Name} is not a port field"),
    };

    /// <summary>An address field's tries (<see cref="FieldKind.Prefix"/>); both null when no rule uses the field.</summary>
    public (Poptrie<FwPopTail4>? V4, Poptrie<FwPopTail6>? V6) Tries(MatchField f) => f.Mask switch
    {
        FieldMask.Src => (Src4, Src6),
        FieldMask.Dst => (Dst4, Dst6),
        _ => throw new ArgumentException($"{f.Name} is not an address field"),
    };

    public ReadOnlySpan<ulong> Bitmap(uint cls) => Bitmaps.AsSpan((int)cls * (1 + Words), 1 + Words);

    private string? _digest;

    /// <summary>
    /// A digest of everything the kernel receives, to prove determinism and to name a ruleset. Computed once
    /// (an image is not changed after compiling; a reload asks for it more than once).
    /// </summary>
    public string Digest() => _digest ??= ComputeDigest();

    private string ComputeDigest()
    {
        using var h = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        Span<byte> head = stackalloc byte[16];
        BitConverter.TryWriteBytes(head, (int)Default | (int)Malformed << 8 | (int)NonIp << 16);
        BitConverter.TryWriteBytes(head[4..], Words);
        BitConverter.TryWriteBytes(head[8..], (uint)Fields);
        BitConverter.TryWriteBytes(head[12..], Rules.Count);
        h.AppendData(head);
        foreach (var r in Rules)
        {
            h.AppendData(System.Text.Encoding.UTF8.GetBytes($"{r.Name}\0{(int)r.Action}\0{r.RedirectTo}\0{(r.Track ? "track\0" : "")}{(r.LogEvery != 0 ? $"log\0{r.LogEvery}\0" : "")}"));
            // Added since: only when used, so a ruleset without them keeps its digest.
            if (r.Limit is { } l)
                h.AppendData(System.Text.Encoding.UTF8.GetBytes($"limit\0{l.Rate}\0{l.PeriodSeconds}\0{l.Burst}\0{l.PerRule}\0{l.Len4}\0{l.Len6}\0"));
            if (r.AddToSlot is { } slot)
                h.AppendData(System.Text.Encoding.UTF8.GetBytes($"add_to\0{slot}\0{r.AddTimeout}\0"));
        }
        foreach (var s in LiveSets)
            h.AppendData(System.Text.Encoding.UTF8.GetBytes($"set\0{s.Slot}\0{s.Name}\0{s.Timeout}\0{s.Max}\0{(int)s.Field}\0"));
        if (LiveSets.Count > 0)
            h.AppendData(System.Text.Encoding.UTF8.GetBytes($"sets\0{SrcSets}\0{DstSets}\0{SrcSetClass}\0{DstSetClass}\0"));
        h.AppendData(MemoryMarshal.AsBytes(Bitmaps.AsSpan()));
        // Arrays first, then tries: the order digests had before the field list (a digest names a ruleset).
        // Fields added since (state) enter only when used, so a ruleset without them keeps its digest.
        foreach (var f in MatchFields.All.Where(f => f.Kind != FieldKind.Prefix && (f.Mask != FieldMask.State || State is not null)))
            AppendArray(h, f.Kind == FieldKind.Byte ? ByteClasses(f) : PortClasses(f));
        if (Conntrack is { } ct)
        {
            h.AppendData(System.Text.Encoding.UTF8.GetBytes(
                $"ct\0{ct.Max}\0{ct.TcpSyn}\0{ct.TcpEstablished}\0{ct.TcpClosing}\0{ct.Udp}\0{ct.UdpReplied}\0{ct.Icmp}\0"));
        }
        if (Log is { } log)
        {
            h.AppendData(System.Text.Encoding.UTF8.GetBytes(
                $"log\0{log.Rate}\0{log.Snaplen}\0{log.DefaultEvery}\0{log.MalformedEvery}\0{log.NonIpEvery}\0"));
        }
        foreach (var f in MatchFields.All.Where(f => f.Kind == FieldKind.Prefix))
        {
            var (v4, v6) = Tries(f);
            AppendTrie(h, v4);
            AppendTrie(h, v6);
        }
        return Convert.ToHexStringLower(h.GetHashAndReset());
    }

    private static void AppendArray(IncrementalHash h, uint[]? a) =>
        h.AppendData(a is null ? [0xff] : MemoryMarshal.AsBytes(a.AsSpan()));

    private static void AppendTrie<TTail>(IncrementalHash h, Poptrie<TTail>? t)
        where TTail : unmanaged, IPopTail<TTail>
    {
        if (t is null)
        {
            h.AppendData([0xfe]);
            return;
        }
        Span<byte> counts = stackalloc byte[12];
        BitConverter.TryWriteBytes(counts, t.Nodes.Length);
        BitConverter.TryWriteBytes(counts[4..], t.Leaves.Length);
        BitConverter.TryWriteBytes(counts[8..], t.Tails.Length);
        h.AppendData(counts);
        h.AppendData(MemoryMarshal.AsBytes(t.Direct.AsSpan()));
        h.AppendData(MemoryMarshal.AsBytes(t.Nodes.AsSpan()));
        h.AppendData(MemoryMarshal.AsBytes(t.Leaves.AsSpan()));
        h.AppendData(MemoryMarshal.AsBytes(t.Tails.AsSpan()));
    }
}
