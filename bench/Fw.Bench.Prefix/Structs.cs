using System.Runtime.InteropServices;

namespace Fw.Bench.Prefix;

// C# mirrors of bench/prefix/prefix_bench.h. Check.Layouts() compares each size with the
// object's BTF before anything is written.

public static class PbConst
{
    public const int MaxTestAddrs = 65536;
    public const int MaxLens4 = 32;
    public const int MaxLens6 = 128;
    public const int DirectBits = 16;
    public const int Stride = 6;
    public const int Depth4 = 3;
    public const int Depth6 = 19;
    public const uint Leaf = 0x80000000u;
    public const uint Tail = 0xc0000000u;
    public const uint Kind = 0xc0000000u;
    public const uint Value = 0x3fffffffu;
    public const uint NoMatch = 0xffffffffu;
    public const int NodePage = 1 << 12;
    public const int LeafPage = 1 << 14;
    public const int TailPage = 1 << 11;
}

[StructLayout(LayoutKind.Sequential)]
public unsafe struct PbLpm4Key
{
    public uint PrefixLen;
    public fixed byte Addr[4];
}

[StructLayout(LayoutKind.Sequential)]
public unsafe struct PbLpm6Key
{
    public uint PrefixLen;
    public fixed byte Addr[16];
}

[StructLayout(LayoutKind.Sequential)]
public struct PbHash4Key
{
    public uint Len;
    public uint Addr;
}

[StructLayout(LayoutKind.Sequential)]
public struct PbHash6Key
{
    public uint Len;
    public uint Pad;
    public ulong Hi;
    public ulong Lo;
}

[StructLayout(LayoutKind.Sequential)]
public struct PbNode
{
    public ulong Vector;
    public ulong LeafVec;
    public uint Base0;
    public uint Base1;
}

[StructLayout(LayoutKind.Sequential)]
public struct PbTail4
{
    public uint Addr;
    public uint Len;
    public uint Cls;
    public uint Dflt;
}

[StructLayout(LayoutKind.Sequential)]
public struct PbTail6
{
    public ulong Hi;
    public ulong Lo;
    public uint Len;
    public uint Cls;
    public uint Dflt;
    public uint Pad;
}

[StructLayout(LayoutKind.Sequential)]
public unsafe struct PbAddr6
{
    public fixed byte Addr[16];
}

[StructLayout(LayoutKind.Sequential)]
public struct PbOut
{
    public uint Idx1;
    public uint Cls;
}

/// <summary><c>const volatile __u8 pb_lens4[PB_MAX_LENS4]</c>.</summary>
[StructLayout(LayoutKind.Sequential)]
public unsafe struct PbLens4
{
    public fixed byte Len[PbConst.MaxLens4];
}

/// <summary><c>const volatile __u8 pb_lens6[PB_MAX_LENS6]</c>.</summary>
[StructLayout(LayoutKind.Sequential)]
public unsafe struct PbLens6
{
    public fixed byte Len[PbConst.MaxLens6];
}
