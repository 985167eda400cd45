using System.Runtime.InteropServices;

namespace Fw.Bench.Prefix;

// C# mirrors of bench/prefix/prefix_bench.h. Check.Layouts() compares each size with the
// object's BTF before anything is written. The Poptrie structs are the compiler's (FwPopNode,
// FwPopTail4, FwPopTail6 in src/Fw.Compiler/Poptrie.cs), mirrors of bpf/fw_common.h.

public static class PbConst
{
    public const int MaxTestAddrs = 65536;
    public const int MaxLens4 = 32;
    public const int MaxLens6 = 128;
    public const uint NoMatch = Fw.Compiler.FwPop.NoMatch;
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
