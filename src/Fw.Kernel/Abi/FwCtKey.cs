using System.Runtime.InteropServices;

namespace Fw.Kernel;

/// <summary>struct fw_ct_key (fw_ct key): a flow's ends in a fixed order, the lower address and port first.</summary>
[StructLayout(LayoutKind.Sequential)]
public unsafe struct FwCtKey
{
    public ulong LoHi;
    public ulong LoLo;
    public ulong HiHi;
    public ulong HiLo;
    public ushort LoPort;
    public ushort HiPort;
    public byte Proto;
    public byte IsIpv6;
    public fixed byte Pad[2];
}
