using System.Buffers.Binary;
using Fw.Compiler;

namespace Fw.Bench.Prefix;

// What the compiler would hand the kernel layer for each structure: plain arrays, no kernel.

/// <summary>Keys and class values for a hash or LPM-trie map.</summary>
public sealed class KeyedImage<TKey>
    where TKey : unmanaged
{
    public required TKey[] Keys { get; init; }
    public required uint[] Values { get; init; }
}

/// <summary>The key structs of one family.</summary>
public interface IKeys<TLpm, THash>
    where TLpm : unmanaged
    where THash : unmanaged
{
    static abstract Family Family { get; }
    static abstract TLpm Lpm(UInt128 addr, int len);
    static abstract THash Hash(UInt128 addr, int len);
}

public readonly struct Keys4 : IKeys<PbLpm4Key, PbHash4Key>
{
    public static Family Family => Family.V4;

    public static unsafe PbLpm4Key Lpm(UInt128 addr, int len)
    {
        var k = new PbLpm4Key { PrefixLen = (uint)len };
        BinaryPrimitives.WriteUInt32BigEndian(new Span<byte>(k.Addr, 4), (uint)(addr >> 96));
        return k;
    }

    public static PbHash4Key Hash(UInt128 addr, int len) => new() { Len = (uint)len, Addr = (uint)(Family.Truncate(addr, len) >> 96) };
}

public readonly struct Keys6 : IKeys<PbLpm6Key, PbHash6Key>
{
    public static Family Family => Family.V6;

    public static unsafe PbLpm6Key Lpm(UInt128 addr, int len)
    {
        var k = new PbLpm6Key { PrefixLen = (uint)len };
        BinaryPrimitives.WriteUInt128BigEndian(new Span<byte>(k.Addr, 16), addr);
        return k;
    }

    public static PbHash6Key Hash(UInt128 addr, int len)
    {
        UInt128 t = Family.Truncate(addr, len);
        return new() { Len = (uint)len, Hi = (ulong)(t >> 64), Lo = (ulong)t };
    }
}

public static class LpmTrieBuilder
{
    /// <summary>Every prefix, the /0 included, keyed as BPF_MAP_TYPE_LPM_TRIE wants it.</summary>
    public static KeyedImage<TLpm> Build<TK, TLpm, THash>(PrefixSet set)
        where TK : IKeys<TLpm, THash>
        where TLpm : unmanaged
        where THash : unmanaged
    {
        var keys = new TLpm[set.Prefixes.Length];
        var values = new uint[keys.Length];
        for (int i = 0; i < keys.Length; i++)
        {
            keys[i] = TK.Lpm(set.Prefixes[i].Addr, set.Prefixes[i].Len);
            values[i] = set.Prefixes[i].Class;
        }
        return new KeyedImage<TLpm> { Keys = keys, Values = values };
    }
}

public static class HashBuilder
{
    /// <summary>One entry per prefix but the /0 (that class is pb_default): {len, masked address} -> class.</summary>
    public static KeyedImage<THash> Build<TK, TLpm, THash>(PrefixSet set)
        where TK : IKeys<TLpm, THash>
        where TLpm : unmanaged
        where THash : unmanaged
    {
        var keys = new List<THash>(set.Prefixes.Length);
        var values = new List<uint>(set.Prefixes.Length);
        foreach (var p in set.Prefixes)
        {
            if (p.Len == 0)
                continue;
            keys.Add(TK.Hash(p.Addr, p.Len));
            values.Add(p.Class);
        }
        return new KeyedImage<THash> { Keys = keys.ToArray(), Values = values.ToArray() };
    }
}

/// <summary>
/// Binary search on prefix lengths (Waldvogel, Varghese, Turner, Plattner, SIGCOMM 1997).
/// The search the XDP program runs is a half-open binary search over the ascending lengths;
/// each prefix leaves a marker at every length where that search must go longer to reach
/// it, and every entry carries its best matching prefix's class, so a marker that leads
/// nowhere still answers correctly.
/// </summary>
public static class WaldvogelBuilder
{
    public static KeyedImage<THash> Build<TK, TLpm, THash>(PrefixSet set, int[] lengths, out int markers)
        where TK : IKeys<TLpm, THash>
        where TLpm : unmanaged
        where THash : unmanaged
    {
        // Lengths the search probes, shorter than the target, on the way to each length index.
        var markerLens = new int[lengths.Length][];
        for (int j = 0; j < lengths.Length; j++)
        {
            var path = new List<int>();
            int lo = 0, hi = lengths.Length;
            while (lo < hi)
            {
                int mid = (lo + hi) >> 1;
                if (mid == j)
                    break;
                if (mid < j)
                {
                    path.Add(lengths[mid]);
                    lo = mid + 1;
                }
                else
                {
                    hi = mid;
                }
            }
            markerLens[j] = path.ToArray();
        }
        var lenIndex = new int[129];
        for (int j = 0; j < lengths.Length; j++)
            lenIndex[lengths[j]] = j;

        var sorted = set.Prefixes.Where(p => p.Len > 0).ToArray();
        Array.Sort(sorted);

        // Sorted by address then length, a prefix follows every prefix containing it, and
        // the prefixes leaving one marker are contiguous: last[m] is enough to dedupe.
        var keys = new List<THash>(sorted.Length * 2);
        var values = new List<uint>(sorted.Length * 2);
        var last = new UInt128[129];
        var lastSet = new bool[129];
        var stack = new Prefix[130];
        int depth = 0;
        markers = 0;
        foreach (var p in sorted)
        {
            while (depth > 0 && !stack[depth - 1].Contains(p.Addr))
                depth--;
            foreach (int m in markerLens[lenIndex[p.Len]])
            {
                UInt128 t = Family.Truncate(p.Addr, m);
                if (lastSet[m] && last[m] == t)
                    continue;
                uint bmp = set.DefaultClass;
                for (int s = depth - 1; s >= 0; s--)
                {
                    if (stack[s].Len <= m)
                    {
                        bmp = stack[s].Class;
                        break;
                    }
                }
                keys.Add(TK.Hash(t, m));
                values.Add(bmp);
                last[m] = t;
                lastSet[m] = true;
                markers++;
            }
            keys.Add(TK.Hash(p.Addr, p.Len));
            values.Add(p.Class);
            last[p.Len] = p.Addr;
            lastSet[p.Len] = true;
            stack[depth++] = p;
        }
        return new KeyedImage<THash> { Keys = keys.ToArray(), Values = values.ToArray() };
    }
}

/// <summary>
/// One family's Poptrie, built by the compiler's own builder (src/Fw.Compiler/Poptrie.cs) from the
/// set's prefixes, exactly as the classifier gets it.
/// </summary>
public sealed class PopImage
{
    private PopImage(Poptrie<FwPopTail4>? v4, Poptrie<FwPopTail6>? v6)
    {
        V4 = v4;
        V6 = v6;
    }

    public Poptrie<FwPopTail4>? V4 { get; }
    public Poptrie<FwPopTail6>? V6 { get; }

    public int Nodes => V4?.Nodes.Length ?? V6!.Nodes.Length;
    public int Leaves => V4?.Leaves.Length ?? V6!.Leaves.Length;
    public int Tails => V4?.Tails.Length ?? V6!.Tails.Length;

    public uint Lookup(UInt128 addr) => V4?.Lookup(addr) ?? V6!.Lookup(addr);

    public static PopImage Build(PrefixSet set, bool tails = true)
    {
        // The builder takes what the compiler hands it: (prefix, class) sorted by address then length.
        var sorted = (Prefix[])set.Prefixes.Clone();
        Array.Sort(sorted);
        var entries = new LpmEntry[sorted.Length];
        for (int i = 0; i < sorted.Length; i++)
            entries[i] = new LpmEntry(sorted[i].Addr, (byte)sorted[i].Len, sorted[i].Class);
        return set.Family.Width == 32
            ? new PopImage(PoptrieBuilder.Build<FwPopTail4>(entries, tails), null)
            : new PopImage(null, PoptrieBuilder.Build<FwPopTail6>(entries, tails));
    }
}
