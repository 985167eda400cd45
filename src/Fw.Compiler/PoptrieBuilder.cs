using System.Numerics;
using Fw.Rules;

namespace Fw.Compiler;

/// <summary>
/// Builds a Poptrie (Asai and Ohara, SIGCOMM 2015) from (prefix, class) entries: a direct level of
/// 2^16 entries, then nodes of 64 children, leaf-pushed so a lookup stops at the first leaf. A node's
/// child nodes are contiguous and found by popcount over its vector; runs of equal leaves are stored
/// once and found by popcount over leafvec. Two changes: a subtree holding a single prefix becomes a
/// tail (one compare) instead of a chain of nodes, which is what sparse /32 and /128 hosts would
/// otherwise cost; and a chain of nodes with one child each right below a direct slot becomes a skip
/// (one compare, then the subtree's node: path compression), which is what IPv6 prefixes under a
/// common /32 (2001:db8::/32) would otherwise cost in steps. One pass over the address-sorted
/// entries; pure and deterministic.
/// </summary>
public sealed class PoptrieBuilder
{
    private const int DirectBits = FwPop.DirectBits;
    private const int Stride = FwPop.Stride;

    public static UInt128 Mask(int length) => length == 0 ? UInt128.Zero : UInt128.MaxValue << (128 - length);

    public static UInt128 Truncate(UInt128 addr, int length) => addr & Mask(length);

    /// <summary>The Stride bits of addr at bit offset off; bits past 127 read as zero.</summary>
    public static int Chunk(UInt128 addr, int off) => (int)((addr << off) >> (128 - Stride));

    // The same on the ulong halves hi:lo of a left-aligned address: what the builder uses, so that its loops over
    // every entry handle no UInt128 and are precompiled (ReadyToRun) rather than JIT-compiled in a cold fwctl.

    /// <summary><see cref="Chunk(UInt128, int)"/> of hi:lo.</summary>
    private static int Chunk(ulong hi, ulong lo, int off)
    {
        ulong top = off == 0 ? hi : off < 64 ? hi << off | lo >> (64 - off) : off < 128 ? lo << (off - 64) : 0;
        return (int)(top >> (64 - Stride));
    }

    /// <summary>hi:lo compared with hi2:lo2 as unsigned 128-bit numbers.</summary>
    private static int Compare(ulong hi, ulong lo, ulong hi2, ulong lo2) => hi != hi2 ? hi.CompareTo(hi2) : lo.CompareTo(lo2);

    /// <summary>
    /// The trie of entries, which must be sorted by address then length (every prefix after the ones
    /// containing it), distinct, masked, no longer than the family's width, with classes below 2^30,
    /// and start with the /0: the class of every address no longer prefix covers.
    /// </summary>
    /// <param name="tails">false: no tails and no skips: single-prefix subtrees and single-child chains are nodes too (the prefix study's variant).</param>
    /// <exception cref="PoptrieBoundException">The trie needs more nodes, leaves or tails than the data plane holds.</exception>
    public static Poptrie<TTail> Build<TTail>(ReadOnlySpan<LpmEntry> entries, bool tails = true)
        where TTail : unmanaged, IPopTail<TTail>
    {
        Validate<TTail>(entries);
        var b = new PoptrieBuilder(tails);
        var dir = new uint[1 << DirectBits];
        dir.AsSpan().Fill(FwPop.Leaf | entries[0].Class);
        // Sorted order applies a containing prefix before the ones it contains: leaf pushing.
        var tailList = new List<TTail>();
        for (int i = 1; i < entries.Length;)
        {
            var p = entries[i];
            int slot = (int)(p.Hi >> (64 - DirectBits));
            if (p.Length <= DirectBits)
            {
                dir.AsSpan(slot, 1 << (DirectBits - p.Length)).Fill(FwPop.Leaf | p.Class);
                i++;
                continue;
            }
            // The longer prefixes of one slot are contiguous: any short prefix covering the slot sorts first.
            int j = i + 1;
            while (j < entries.Length && entries[j].Length > DirectBits && (int)(entries[j].Hi >> (64 - DirectBits)) == slot)
                j++;
            dir[slot] = b.Child(entries[i..j], DirectBits, dir[slot] & FwPop.Value, TTail.Depth - 1, tailList, skip: true);
            i = j;
        }
        return new Poptrie<TTail>
        {
            Prefixes = entries.Length,
            Direct = dir,
            Nodes = b._nodes[..b._nodeCount],
            Leaves = b._leaves[..b._leafCount],
            Tails = tailList.ToArray(),
        };
    }

    private static void Validate<TTail>(ReadOnlySpan<LpmEntry> entries)
        where TTail : unmanaged, IPopTail<TTail>
    {
        if (entries.IsEmpty || entries[0].Length != 0)
            throw new ArgumentException("the entries must start with the /0");
        for (int i = 0; i < entries.Length; i++)
        {
            var e = entries[i];
            if (e.Length > TTail.Width || (e.Hi & IpPrefix.MaskHi(e.Length)) != e.Hi || (e.Lo & IpPrefix.MaskLo(e.Length)) != e.Lo)
                throw new ArgumentException($"entry {i}: not a masked /{e.Length} of a {TTail.Width}-bit address");
            if (e.Class > FwPop.Value)
                throw new ArgumentException($"entry {i}: class {e.Class} does not fit in 30 bits");
            if (i > 0)
            {
                var prev = entries[i - 1];
                int c = Compare(prev.Hi, prev.Lo, e.Hi, e.Lo);
                if (c > 0 || (c == 0 && prev.Length >= e.Length))
                    throw new ArgumentException($"entry {i}: entries are not sorted by address then length, or repeat");
            }
        }
    }

    private readonly bool _useTails;
    private FwPopNode[] _nodes = new FwPopNode[256];
    private int _nodeCount;
    private uint[] _leaves = new uint[1024];
    private int _leafCount;

    private PoptrieBuilder(bool useTails) => _useTails = useTails;

    /// <summary>The entry for a subtree at bit off holding span (all longer than off): a tail or a new node.</summary>
    /// <param name="skip">A direct slot: a chain of single-child nodes below it becomes a skip (the XDP program checks one before its node steps).</param>
    private uint Child<TTail>(ReadOnlySpan<LpmEntry> span, int off, uint dflt, int depthLeft, List<TTail> tails, bool skip = false)
        where TTail : unmanaged, IPopTail<TTail>
    {
        if (span.Length == 1 && _useTails)
        {
            if (tails.Count == FwPop.MaxTails)
                throw new PoptrieBoundException("tails", FwPop.MaxTails);
            tails.Add(TTail.Create(span[0].Hi, span[0].Lo, span[0].Length, span[0].Class, dflt));
            return FwPop.Tail | (uint)(tails.Count - 1);
        }
        int levels = skip && _useTails ? SkipLevels(span, off) : 0;
        if (levels > 0)
        {
            // Path compression: one compare stands for the chain of single-child nodes down to bit at.
            int at = off + levels * Stride, ti = tails.Count;
            if (ti == FwPop.MaxTails)
                throw new PoptrieBoundException("tails", FwPop.MaxTails);
            tails.Add(default);
            int target = AllocNodes(1);
            BuildNode(target, at, span, dflt, depthLeft - levels, tails);
            tails[ti] = TTail.Create(span[0].Hi & IpPrefix.MaskHi(at), span[0].Lo & IpPrefix.MaskLo(at), at, (uint)target, dflt);
            return FwPop.Skip | (uint)ti;
        }
        int node = AllocNodes(1);
        BuildNode(node, off, span, dflt, depthLeft, tails);
        return (uint)node;
    }

    /// <summary>
    /// Levels a subtree at bit off holding span (two or more prefixes, all longer than off, sorted) can skip:
    /// the leading chunks every prefix shares, each level above every prefix's end, so each would be a node
    /// with one child node and every other child the default.
    /// </summary>
    private static int SkipLevels(ReadOnlySpan<LpmEntry> span, int off)
    {
        // Sorted by address: all share a chunk when the first and the last do.
        int minLen = int.MaxValue;
        foreach (var p in span)
            minLen = Math.Min(minLen, p.Length);
        var (first, last) = (span[0], span[^1]);
        int levels = 0;
        for (int o = off; o + Stride < minLen && Chunk(first.Hi, first.Lo, o) == Chunk(last.Hi, last.Lo, o); o += Stride)
            levels++;
        return levels;
    }

    private int AllocNodes(int n)
    {
        if (_nodeCount + n > FwPop.MaxNodes)
            throw new PoptrieBoundException("nodes", FwPop.MaxNodes);
        if (_nodeCount + n > _nodes.Length)
            Array.Resize(ref _nodes, Math.Max(_nodes.Length * 2, _nodeCount + n));
        int at = _nodeCount;
        _nodeCount += n;
        return at;
    }

    private void AddLeaf(uint entry)
    {
        if (_leafCount == FwPop.MaxLeaves)
            throw new PoptrieBoundException("leaves", FwPop.MaxLeaves);
        if (_leafCount == _leaves.Length)
            Array.Resize(ref _leaves, _leaves.Length * 2);
        _leaves[_leafCount++] = entry;
    }

    /// <summary>Node idx covers the addresses sharing span's first off bits; every prefix in span is longer than off.</summary>
    private void BuildNode<TTail>(int idx, int off, ReadOnlySpan<LpmEntry> span, uint dflt, int depthLeft, List<TTail> tails)
        where TTail : unmanaged, IPopTail<TTail>
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
            int c = Chunk(p.Hi, p.Lo, off);
            if (p.Length <= limit)
            {
                // Covers whole children; the ones it contains come later and overwrite.
                cls.Slice(c, 1 << (limit - p.Length)).Fill(p.Class);
                i++;
                continue;
            }
            // A child's longer prefixes are contiguous: a shorter prefix covering the child sorts first.
            int j = i + 1;
            while (j < span.Length && span[j].Length > limit && Chunk(span[j].Hi, span[j].Lo, off) == c)
                j++;
            if ((children & (1UL << c)) != 0)
                throw new InvalidOperationException($"child {c} at bit {off} split: entries are not sorted");
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
            entry[c] = FwPop.Leaf | cls[c];
        ulong vector = 0;
        int nodeRuns = 0;
        for (int r = 0; r < runs; r++)
        {
            if (_useTails && runEnd[r] - runStart[r] == 1)
            {
                entry[runChild[r]] = Child(span[runStart[r]..runEnd[r]], limit, cls[runChild[r]], depthLeft - 1, tails);
            }
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
        _nodes[idx] = new FwPopNode { Vector = vector, LeafVec = leafvec, Base0 = (uint)base0, Base1 = (uint)base1 };
        // Child nodes in child order, so the k-th set bit of vector is node base1 + k.
        int k = 0;
        for (int r = 0; r < runs; r++)
        {
            if ((vector & (1UL << runChild[r])) != 0)
                BuildNode(base1 + k++, limit, span[runStart[r]..runEnd[r]], cls[runChild[r]], depthLeft - 1, tails);
        }
    }
}
