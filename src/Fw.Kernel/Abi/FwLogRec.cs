using System.Runtime.InteropServices;

namespace Fw.Kernel;

/// <summary>struct fw_log_rec: the header of a packet log record; the frame's first <see cref="Caplen"/> bytes follow.</summary>
[StructLayout(LayoutKind.Sequential)]
public struct FwLogRec
{
    public ulong TsNs;
    public uint Cpu;
    public uint Ifindex;
    public uint Len;
    public ushort Caplen;
    public byte Verdict;
    public byte Reason;
    public uint Slot;
    public uint Rule;
}
