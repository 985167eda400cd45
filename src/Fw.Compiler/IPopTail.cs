
namespace Fw.Compiler;

/// <summary>A tail of one family's layout: a subtree holding a single prefix.</summary>
public interface IPopTail<TSelf>
    where TSelf : unmanaged, IPopTail<TSelf>
{
    /// <summary>Address bits of the family (32 or 128).</summary>
    static abstract int Width { get; }

    /// <summary>Node levels below the direct level: the XDP loop bound (FW_POP_DEPTH4 / FW_POP_DEPTH6).</summary>
    static abstract int Depth { get; }

    /// <summary>The tail of prefix hi:lo/length (left-aligned, masked) with class cls inside it, dflt around it.</summary>
    /// <remarks>On ulong halves, not a UInt128: the builder calling it is then precompiled (ReadyToRun).</remarks>
    static abstract TSelf Create(ulong hi, ulong lo, int length, uint cls, uint dflt);

    /// <summary>What the XDP program returns for addr (left-aligned) when its lookup ends at this tail.</summary>
    uint ClassOf(UInt128 addr);

    /// <summary>As a skip: whether addr (left-aligned) has the first Length bits, the bit the lookup goes on at, and the node.</summary>
    bool Has(UInt128 addr);

    int Length { get; }

    uint Cls { get; }

    uint Dflt { get; }
}
