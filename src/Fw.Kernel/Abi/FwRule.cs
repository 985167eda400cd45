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

    /// <summary>add_to: the set's slot in fw_sets.</summary>
    public byte AddSet;

    /// <summary>limit per src/N: the prefix lengths of a source's bucket (32 and 128: per address).</summary>
    public byte LimitLen4;
    public byte LimitLen6;
    public byte Pad;

    /// <summary>add_to: the set's timeout in ns; 0: entries stay until removed.</summary>
    public ulong AddTimeoutNs;

    /// <summary>limit: ns between two packets at the rate (GCRA's emission interval).</summary>
    public ulong LimitNs;

    /// <summary>limit: (burst - 1) * LimitNs.</summary>
    public ulong LimitTolNs;

    /// <summary>FW_RULE_TRACK: a packet the rule passes puts its flow into fw_ct.</summary>
    public const uint Track = 1;

    /// <summary>FW_RULE_ADD_TO: the source of a packet it decides goes into fw_sets[AddSet].</summary>
    public const uint AddTo = 2;

    /// <summary>FW_RULE_LIMIT: matches only packets over its limit (drop) ...</summary>
    public const uint Limit = 4;

    /// <summary>FW_RULE_QUOTA: ... or, with this flag (pass), only packets within it.</summary>
    public const uint Quota = 8;

    /// <summary>FW_RULE_LIMIT_RULE: one bucket for the rule (per: rule).</summary>
    public const uint LimitPerRule = 16;
}
