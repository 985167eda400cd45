using System.Numerics;
using System.Runtime.InteropServices;

namespace Fw.Compiler;

/// <summary>struct fw_pop_node: one node of 64 children (see bpf/fw_common.h).</summary>
[StructLayout(LayoutKind.Sequential)]
public struct FwPopNode
{
    public ulong Vector;
    public ulong LeafVec;
    public uint Base0;
    public uint Base1;
}
