using System.Runtime.InteropServices;

namespace Fw.Compiler;

/// <summary>struct fw_pop_tail4: address in host order, masked to Len.</summary>
[StructLayout(LayoutKind.Sequential)]
public struct FwPopTail4 : IPopTail<FwPopTail4>
{
    public uint Addr;
    public uint Len;
    public uint Cls;
    public uint Dflt;

    public static int Width => 32;
    public static int Depth => FwPop.Depth4;

    public static FwPopTail4 Create(ulong hi, ulong lo, int length, uint cls, uint dflt) =>
        new() { Addr = (uint)(hi >> 32), Len = (uint)length, Cls = cls, Dflt = dflt };

    public readonly uint ClassOf(UInt128 addr) => Has(addr) ? Cls : Dflt;

    public readonly bool Has(UInt128 addr) => (uint)(PoptrieBuilder.Truncate(addr, (int)Len) >> 96) == Addr;

    readonly int IPopTail<FwPopTail4>.Length => (int)Len;

    readonly uint IPopTail<FwPopTail4>.Cls => Cls;

    readonly uint IPopTail<FwPopTail4>.Dflt => Dflt;
}
