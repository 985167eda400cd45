using System.Runtime.InteropServices;

namespace Fw.Compiler;

/// <summary>struct fw_pop_tail6: address as host-order halves, masked to Len.</summary>
[StructLayout(LayoutKind.Sequential)]
public struct FwPopTail6 : IPopTail<FwPopTail6>
{
    public ulong Hi;
    public ulong Lo;
    public uint Len;
    public uint Cls;
    public uint Dflt;
    public uint Pad;

    public static int Width => 128;
    public static int Depth => FwPop.Depth6;

    public static FwPopTail6 Create(ulong hi, ulong lo, int length, uint cls, uint dflt) =>
        new() { Hi = hi, Lo = lo, Len = (uint)length, Cls = cls, Dflt = dflt };

    public readonly uint ClassOf(UInt128 addr) => Has(addr) ? Cls : Dflt;

    public readonly bool Has(UInt128 addr) => PoptrieBuilder.Truncate(addr, (int)Len) == new UInt128(Hi, Lo);

    readonly int IPopTail<FwPopTail6>.Length => (int)Len;

    readonly uint IPopTail<FwPopTail6>.Cls => Cls;

    readonly uint IPopTail<FwPopTail6>.Dflt => Dflt;
}
