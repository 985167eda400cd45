using System.Buffers.Binary;
using System.Numerics;

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

/// <summary>A subtree holding one prefix: its class for addresses inside it, else the class around it.</summary>
public readonly record struct PoptrieTail(UInt128 Addr, int Len, uint Class, uint Default);

/// <summary>pb_dir, pb_node, pb_leaf and pb_tail of one family's Poptrie (unpaged; the writer pages them).</summary>
public sealed class PoptrieImage
{
    public required uint[] Direct { get; init; }
    public required PbNode[] Nodes { get; init; }
    public required uint[] Leaves { get; init; }
    public required PoptrieTail[] Tails { get; init; }
}

/// <summary>
/// Poptrie (Asai and Ohara, SIGCOMM 2015): a direct level of 2^16 entries, then nodes of 64
/// children, leaf-pushed so a lookup stops at the first leaf. A node's child nodes are
/// contiguous and found by popcount over its vector; runs of equal leaves are stored once and
/// found by popcount over leafvec. One change: a subtree holding a single prefix becomes a
/// tail (one compare) instead of a chain of nodes, which is what sparse /128 and /32 hosts
/// would otherwise cost. Built from the address-sorted prefixes in one pass.
/// </summary>
public sealed class PoptrieBuilder
{
    private const int Direct = PbConst.DirectBits;
    private const int Stride = PbConst.Stride;

    private PbNode[] _nodes = new PbNode[1024];
    private int _nodeCount;
    private uint[] _leaves = new uint[4096];
    private int _leafCount;
    private readonly List<PoptrieTail> _tails = [];

    public static PoptrieImage Build(PrefixSet set, bool tails = true)
    {
        var sorted = (Prefix[])set.Prefixes.Clone();
        Array.Sort(sorted);
        foreach (var p in sorted)
        {
            if (p.Class > PbConst.Value)
                throw new ArgumentException($"class {p.Class} of {set.Family.Format(p.Addr, p.Len)} does not fit in 30 bits");
        }

        var b = new PoptrieBuilder { _useTails = tails };
        var dir = new uint[1 << Direct];
        Array.Fill(dir, PbConst.NoMatch);
        // Sorted order applies a containing prefix before the ones it contains: leaf pushing.
        var longs = new List<Prefix>(sorted.Length);
        foreach (var p in sorted)
        {
            if (p.Len > Direct)
            {
                longs.Add(p);
                continue;
            }
            int start = (int)(p.Addr >> (128 - Direct));
            dir.AsSpan(start, 1 << (Direct - p.Len)).Fill(PbConst.Leaf | p.Class);
        }
        var span = System.Runtime.InteropServices.CollectionsMarshal.AsSpan(longs);
        for (int i = 0; i < span.Length;)
        {
            int slot = (int)(span[i].Addr >> (128 - Direct)), j = i + 1;
            while (j < span.Length && (int)(span[j].Addr >> (128 - Direct)) == slot)
                j++;
            dir[slot] = b.Child(span[i..j], Direct, dir[slot] & PbConst.Value, set.Family.Depth - 1);
            i = j;
        }
        return new PoptrieImage { Direct = dir, Nodes = b._nodes[..b._nodeCount], Leaves = b._leaves[..b._leafCount], Tails = b._tails.ToArray() };
    }

    private bool _useTails;

    private static int Chunk(UInt128 addr, int off) => (int)((addr << off) >> (128 - Stride));

    /// <summary>The entry for a subtree at bit off holding span (all longer than off): a tail or a new node.</summary>
    private uint Child(ReadOnlySpan<Prefix> span, int off, uint dflt, int depthLeft)
    {
        if (span.Length == 1 && _useTails)
        {
            _tails.Add(new PoptrieTail(span[0].Addr, span[0].Len, span[0].Class, dflt));
            if (_tails.Count > PbConst.Value)
                throw new InvalidOperationException("more than 2^30 Poptrie tails");
            return PbConst.Tail | (uint)(_tails.Count - 1);
        }
        int node = AllocNodes(1);
        BuildNode(node, off, span, dflt, depthLeft);
        return (uint)node;
    }

    private int AllocNodes(int n)
    {
        if (_nodeCount + n > _nodes.Length)
            Array.Resize(ref _nodes, Math.Max(_nodes.Length * 2, _nodeCount + n));
        int at = _nodeCount;
        _nodeCount += n;
        return at;
    }

    private void AddLeaf(uint entry)
    {
        if (_leafCount == _leaves.Length)
            Array.Resize(ref _leaves, _leaves.Length * 2);
        _leaves[_leafCount++] = entry;
    }

    /// <summary>Node idx covers the addresses sharing span's first off bits; every prefix in span is longer than off.</summary>
    private void BuildNode(int idx, int off, ReadOnlySpan<Prefix> span, uint dflt, int depthLeft)
    {
        if (depthLeft < 0)
            throw new InvalidOperationException($"Poptrie deeper than the XDP loop bound at bit {off}");
        Span<uint> cls = stackalloc uint[64];
        cls.Fill(dflt);
        Span<int> runChild = stackalloc int[64], runStart = stackalloc int[64], runEnd = stackalloc int[64];
        int runs = 0, limit = off + Stride;
        ulong children = 0;
        for (int i = 0; i < span.Length;)
        {
            var p = span[i];
            int c = Chunk(p.Addr, off);
            if (p.Len <= limit)
            {
                // Covers whole children; the ones it contains come later and overwrite.
                cls.Slice(c, 1 << (limit - p.Len)).Fill(p.Class);
                i++;
                continue;
            }
            // A child's longer prefixes are contiguous: a shorter prefix covering the child
            // sorts before all of them.
            int j = i + 1;
            while (j < span.Length && span[j].Len > limit && Chunk(span[j].Addr, off) == c)
                j++;
            if ((children & (1UL << c)) != 0)
                throw new InvalidOperationException($"child {c} at bit {off} split: prefixes are not sorted");
            children |= 1UL << c;
            runChild[runs] = c;
            runStart[runs] = i;
            runEnd[runs] = j;
            runs++;
            i = j;
        }

        // Leaf entries: classes, and tails for children holding a single prefix.
        Span<uint> entry = stackalloc uint[64];
        for (int c = 0; c < 64; c++)
            entry[c] = PbConst.Leaf | cls[c];
        ulong vector = 0;
        int nodeRuns = 0;
        for (int r = 0; r < runs; r++)
        {
            if (_useTails && runEnd[r] - runStart[r] == 1)
                entry[runChild[r]] = Child(span[runStart[r]..runEnd[r]], limit, cls[runChild[r]], depthLeft - 1);
            else
            {
                vector |= 1UL << runChild[r];
                nodeRuns++;
            }
        }

        int base1 = AllocNodes(nodeRuns), base0 = _leafCount;
        ulong leafvec = 0;
        bool any = false;
        uint last = 0;
        for (int c = 0; c < 64; c++)
        {
            if ((vector & (1UL << c)) != 0)
                continue;
            if (!any || entry[c] != last)
            {
                leafvec |= 1UL << c;
                AddLeaf(entry[c]);
                last = entry[c];
                any = true;
            }
        }
        _nodes[idx] = new PbNode { Vector = vector, LeafVec = leafvec, Base0 = (uint)base0, Base1 = (uint)base1 };
        // Child nodes in child order, so the k-th set bit of vector is node base1 + k.
        int k = 0;
        for (int r = 0; r < runs; r++)
        {
            if ((vector & (1UL << runChild[r])) != 0)
                BuildNode(base1 + k++, limit, span[runStart[r]..runEnd[r]], cls[runChild[r]], depthLeft - 1);
        }
    }

    /// <summary>The lookup the XDP program does, in C#: the builder's own check.</summary>
    public static uint Lookup(PoptrieImage img, UInt128 addr)
    {
        uint e = img.Direct[(int)(addr >> (128 - Direct))];
        for (int off = Direct; (e & PbConst.Leaf) == 0; off += Stride)
        {
            var n = img.Nodes[e];
            int c = Chunk(addr, off);
            ulong bit = 1UL << c, upto = (bit << 1) - 1;
            e = (n.Vector & bit) != 0
                ? n.Base1 + (uint)BitOperations.PopCount(n.Vector & upto) - 1
                : img.Leaves[n.Base0 + BitOperations.PopCount(n.LeafVec & upto) - 1];
        }
        if ((e & PbConst.Kind) == PbConst.Tail)
        {
            var t = img.Tails[e & PbConst.Value];
            return Family.Truncate(addr, t.Len) == t.Addr ? t.Class : t.Default;
        }
        return e == PbConst.NoMatch ? PbConst.NoMatch : e & PbConst.Value;
    }
}
