using System.Runtime.InteropServices;

namespace Fw.Kernel;

/// <summary>struct fw_rule (fw_rules value): what rule N does when it is the first match.</summary>
[StructLayout(LayoutKind.Sequential)]
public struct FwRule
{
    public uint Action;
    public uint Ifindex;
    public uint StatSlot;
    public uint Pad;
}
