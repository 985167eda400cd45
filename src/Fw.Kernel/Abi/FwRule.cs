using System.Runtime.InteropServices;

namespace Fw.Kernel;

/// <summary>struct fw_rule (fw_rules value): what rule N does when it is the first match.</summary>
[StructLayout(LayoutKind.Sequential)]
public struct FwRule
{
    public uint Action;
    public uint Ifindex;
    public uint StatSlot;
    public uint Flags;

    /// <summary>log: one frame in N it decides is logged (1: every one); 0: none.</summary>
    public uint LogEvery;
    public uint Pad;

    /// <summary>FW_RULE_TRACK: a packet the rule passes puts its flow into fw_ct.</summary>
    public const uint Track = 1;
}
