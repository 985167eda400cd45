using System.Runtime.InteropServices;

namespace Fw.Kernel;

/// <summary>struct fw_counter: one CPU's value of one fw_stats slot.</summary>
[StructLayout(LayoutKind.Sequential)]
public struct FwCounter
{
    public ulong Packets;
    public ulong Bytes;
}
