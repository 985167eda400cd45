using System.Runtime.InteropServices;

namespace Fw.Kernel;

/// <summary>struct fw_ct_entry (fw_ct value): a flow's last second, who put it there, its phase and which end started it.</summary>
[StructLayout(LayoutKind.Sequential)]
public struct FwCtEntry
{
    public uint LastSeen;
    public byte Origin;
    public byte Phase;
    public byte StarterLo;
    public byte Pad;
}
