using Fw.Bpf;
using Fw.Compiler;

namespace Fw.Kernel;

/// <summary>
/// Which fw_stats slot counts each rule. A rule keeps the slot of the running rule with its name, so its
/// counter carries over a reload; a new name gets a free slot, zeroed before the switch. Slots below
/// <see cref="FwStatSlot.RuleBase"/> belong to actions and reasons: a rule found in one (pinned by a build whose
/// rule slots began lower) moves to a free slot with its counts, and the slot it leaves is zeroed after the switch.
/// </summary>
public sealed class StatSlots
{
    private readonly List<uint> _fresh;
    private readonly List<(uint From, uint To)> _moved;

    private StatSlots(uint[] slots, List<uint> fresh, List<(uint, uint)> moved)
    {
        Slots = slots;
        _fresh = fresh;
        _moved = moved;
    }

    /// <summary>The slot of each rule, by index.</summary>
    public IReadOnlyList<uint> Slots { get; }

    /// <summary>The slots of a first generation: rule i counts in RuleBase + i.</summary>
    public static uint[] Initial(int rules) =>
        Enumerable.Range(0, rules).Select(i => (uint)FwStatSlot.RuleBase + (uint)i).ToArray();

    /// <summary>Assigns slots for <paramref name="image"/>'s rules, following the running generation's.</summary>
    public static StatSlots Plan(InterfaceState state, MapImage image)
    {
        uint limit = state.Stats.MaxEntries;
        var old = state.Rules.ToDictionary(r => r.Name, r => r.Slot);
        var used = old.Values.ToHashSet();
        uint next = (uint)FwStatSlot.RuleBase;
        var fresh = new List<uint>();
        var moved = new List<(uint, uint)>();
        var slots = new uint[image.Rules.Count];
        for (int i = 0; i < slots.Length; i++)
        {
            bool had = old.TryGetValue(image.Rules[i].Name, out uint s);
            if (had && s >= (uint)FwStatSlot.RuleBase && s < limit)
            {
                slots[i] = s;
                continue;
            }
            while (used.Contains(next))
                next++;
            if (next >= limit)
                throw new BpfException("assign counter slots: none free", 28 /* ENOSPC */);
            slots[i] = next;
            used.Add(next);
            if (had)
                moved.Add((s, next));
            else
                fresh.Add(next);
        }
        return new StatSlots(slots, fresh, moved);
    }

    /// <summary>Before the switch: zero the fresh slots and copy moved rules' counts into their new slots.</summary>
    public void Prepare(BpfMap stats)
    {
        var zeros = new FwCounter[BpfMap.PossibleCpus];
        foreach (uint slot in _fresh)
            stats.UpdatePerCpu(slot, zeros);
        foreach (var (from, to) in _moved)
            stats.UpdatePerCpu(to, stats.LookupPerCpu<uint, FwCounter>(from));
    }

    /// <summary>After the switch: a slot a rule moved out of goes back to zero for the reason it belongs to.</summary>
    public void Finish(BpfMap stats)
    {
        var zeros = new FwCounter[BpfMap.PossibleCpus];
        foreach (var (from, _) in _moved)
            stats.UpdatePerCpu(from, zeros);
    }
}
