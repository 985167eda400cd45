using System.Numerics;

namespace Fw.Compiler;

/// <summary>
/// One address field's Poptrie for one family, unpaged: exactly the items the kernel layer writes into
/// the field's fw_*_dir, fw_*_node, fw_*_leaf and fw_*_tail maps (which it pads to whole pages).
/// </summary>
public sealed class Poptrie<TTail>
    where TTail : unmanaged, IPopTail<TTail>
{
    /// <summary>The merged (prefix, class) entries it was built from, the /0 included.</summary>
    public required int Prefixes { get; init; }

    /// <summary>2^16 entries, indexed by the top 16 address bits.</summary>
    public required uint[] Direct { get; init; }
    public required FwPopNode[] Nodes { get; init; }
    public required uint[] Leaves { get; init; }
    public required TTail[] Tails { get; init; }

    /// <summary>The lookup the XDP program does (bpf/fw_poptrie.h), in C#: addr is left-aligned in 128 bits.</summary>
    public uint Lookup(UInt128 addr)
    {
        uint e = Direct[(int)(addr >> (128 - FwPop.DirectBits))];
        int off = FwPop.DirectBits;
        if ((e & FwPop.Kind) == FwPop.Skip)
        {
            ref readonly var t = ref Tails[e & FwPop.Value];
            if (!t.Has(addr))
                return t.Dflt;
            e = t.Cls;
            off = t.Length;
        }
        for (int d = 0; d < TTail.Depth && (e & FwPop.Leaf) == 0; d++, off += FwPop.Stride)
        {
            ref readonly var n = ref Nodes[e];
            int c = PoptrieBuilder.Chunk(addr, off);
            ulong bit = 1UL << c, upto = (bit << 1) - 1;
            e = (n.Vector & bit) != 0
                ? n.Base1 + (uint)BitOperations.PopCount(n.Vector & upto) - 1
                : Leaves[n.Base0 + BitOperations.PopCount(n.LeafVec & upto) - 1];
        }
        if (e == FwPop.NoMatch || (e & FwPop.Leaf) == 0)
            return FwPop.NoMatch;
        return (e & FwPop.Kind) == FwPop.Tail ? Tails[e & FwPop.Value].ClassOf(addr) : e & FwPop.Value;
    }
}

