using System.Security.Cryptography;
using System.Runtime.InteropServices;
using Fw.Rules;

namespace Fw.Compiler;

// Mirrors of bpf/fw_common.h constants the compiler needs. A test checks them against the header.
public static class FwLimits
{
    public const int MaxRules = 4096;
    public const int WordBits = 64;
    public const int MaxWords = MaxRules / WordBits;
    public const int MaxPrefixes = 1_048_576;
    public const int MaxClasses = 262_144;
    public const int MaxName = 64;
    public const int PortAbsent = 65536;
    public const int ByteAbsent = 256;
}

/// <summary>enum fw_field: which fields some rule constrains.</summary>
[Flags]
public enum FieldMask : uint
{
    None = 0,
    Src = 1 << 0,
    Dst = 1 << 1,
    Proto = 1 << 2,
    Sport = 1 << 3,
    Dport = 1 << 4,
    TcpFlags = 1 << 5,
    IcmpType = 1 << 6,
}

/// <summary>One rule as the data plane sees it; the interface name is resolved by the kernel layer.</summary>
public sealed record RuleEntry(string Name, RuleAction Action, string? RedirectTo);

/// <summary>
/// One merged address entry: a prefix (left-aligned in 128 bits, as <see cref="IpPrefix.Bits"/>) and the class
/// of the addresses it is the longest match for; what <see cref="PoptrieBuilder"/> builds from.
/// </summary>
[StructLayout(LayoutKind.Auto)]
public readonly record struct LpmEntry(UInt128 Bits, byte Length, uint Class);

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
            h.AppendData(System.Text.Encoding.UTF8.GetBytes($"{r.Name}\0{(int)r.Action}\0{r.RedirectTo}\0"));
        h.AppendData(MemoryMarshal.AsBytes(Bitmaps.AsSpan()));
        foreach (var a in new[] { Proto, Sport, Dport, TcpFlags, IcmpType })
            h.AppendData(a is null ? [0xff] : MemoryMarshal.AsBytes(a.AsSpan()));
        AppendTrie(h, Src4);
        AppendTrie(h, Src6);
        AppendTrie(h, Dst4);
        AppendTrie(h, Dst6);
        return Convert.ToHexStringLower(h.GetHashAndReset());
    }

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
