using Fw.Rules;

namespace Fw.Compiler;

/// <summary>One rule as the data plane sees it; the interface name is resolved by the kernel layer.</summary>
/// <param name="Track">`track: true`: a packet the rule passes puts its flow into the flow table.</param>
/// <param name="LogEvery">`log`: the frames it decides are logged one in N (1: every one); 0: not logged.</param>
public sealed record RuleEntry(string Name, RuleAction Action, string? RedirectTo, bool Track = false, uint LogEvery = 0)
{
    /// <summary>`limit`: matches only packets over it (drop) or within it (pass); null: none.</summary>
    public RuleLimit? Limit { get; init; }

    /// <summary>`add_to`: the fw_sets slot of the live set its packets' sources go into; null: none.</summary>
    public int? AddToSlot { get; init; }

    /// <summary>`add_to`: the set's timeout in seconds (null: entries stay until removed).</summary>
    public uint? AddTimeout { get; init; }
}

/// <summary>
/// A live set in one fw_sets slot of a generation (bpf/fw_common.h: 0-7 the sets rules name in src, 8-15 in dst,
/// 16-31 the others). A set named in src and in dst has two slots, both its one trie.
/// </summary>
/// <param name="Field">Src or Dst: the field whose membership classes count the slot; None: add_to or fwctl only.</param>
public sealed record LiveSetSlot(int Slot, string Name, uint? Timeout, int Max, FieldMask Field);
