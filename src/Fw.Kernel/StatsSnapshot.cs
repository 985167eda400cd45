using Fw.Bpf;

namespace Fw.Kernel;

/// <summary>
/// Every counter of an attached interface, read once from its pinned maps: what fwctl stats prints
/// and fwd exports. Works in any process, with or without fwd.
/// </summary>
/// <param name="Slots">Every action and reason slot (<see cref="FwStatSlot"/> below RuleBase), by slot.</param>
public sealed record StatsSnapshot(
    string Interface,
    ulong Generation,
    DateTimeOffset ReadAt,
    IReadOnlyDictionary<FwStatSlot, Counter> Slots,
    IReadOnlyList<RuleCounter> Rules)
{
    public Counter Pass => Slots[FwStatSlot.Pass];
    public Counter Drop => Slots[FwStatSlot.Drop];
    public Counter Redirect => Slots[FwStatSlot.Redirect];
    public Counter Default => Slots[FwStatSlot.Default];
    public Counter Malformed => Slots[FwStatSlot.Malformed];
    public Counter NonIp => Slots[FwStatSlot.NonIp];
    public Counter NoRuleset => Slots[FwStatSlot.NoRuleset];
    public Counter RedirectErrors => Slots[FwStatSlot.RedirectErr];

    /// <summary>Flows put into the flow table (track rules, the egress program); packets only.</summary>
    public Counter ConntrackInserts => Slots[FwStatSlot.CtInsert];

    /// <summary>Flows the flow table refused (the packet went on); packets only.</summary>
    public Counter ConntrackInsertFailures => Slots[FwStatSlot.CtInsertFail];

    /// <summary>Frames written to the packet log.</summary>
    public Counter LogRecords => Slots[FwStatSlot.Log];

    /// <summary>Frames to log over log.rate (not written).</summary>
    public Counter LogOverRate => Slots[FwStatSlot.LogRate];

    /// <summary>Frames to log that found the log's ring buffer full (not written).</summary>
    public Counter LogBufferFull => Slots[FwStatSlot.LogFull];

    /// <summary>Limit checks that found the packet over the rule's rate.</summary>
    public Counter LimitOver => Slots[FwStatSlot.LimitOver];

    /// <summary>Limit checks that found it within the rate.</summary>
    public Counter LimitUnder => Slots[FwStatSlot.LimitUnder];

    /// <summary>The live generation's live sets, by name.</summary>
    public IReadOnlyList<LiveSetCounts> LiveSets { get; init; } = [];

    /// <summary>The flow table's size, entries and counters; null when no ruleset of the interface named state or track.</summary>
    public ConntrackCounts? Conntrack { get; init; }

    public int Cpus => Pass.PerCpu.Count;

    /// <summary>The action and reason slots: every <see cref="FwStatSlot"/> but the rule base.</summary>
    public static IEnumerable<FwStatSlot> ReasonSlots => Enum.GetValues<FwStatSlot>().Where(s => s < FwStatSlot.RuleBase);

    public static StatsSnapshot Read(string iface)
    {
        using var state = InterfaceState.Open(iface);
        return Read(state);
    }

    public static StatsSnapshot Read(InterfaceState state)
    {
        var slots = ReasonSlots.ToDictionary(s => s, s => Counter.From(state.Counter((uint)s)));
        var rules = state.Rules
            .Select(r => new RuleCounter(r.Index, r.Name, r.Action, Counter.From(state.Counter(r.Slot)), r.Limited))
            .ToList();
        return new StatsSnapshot(state.Interface, state.Meta.Generation, DateTimeOffset.UtcNow, slots, rules)
        {
            Conntrack = ReadConntrack(state.Interface, slots),
            LiveSets = ReadLiveSets(state),
        };
    }

    /// <summary>Each live set of the live generation: entries counted by reading its trie (batched, bounded by its max).</summary>
    private static List<LiveSetCounts> ReadLiveSets(InterfaceState state)
    {
        var list = new List<LiveSetCounts>();
        foreach (var conf in TraceCopy.LiveSetConf(state.GenerationDir).Select(c => c.Conf).DistinctBy(c => c.NameString).OrderBy(c => c.NameString, StringComparer.Ordinal))
        {
            string name = conf.NameString;
            if (Fw.Rules.SetName.Problem(name) is not null || !LiveSetMap.Exists(state.Interface, name))
                continue;
            try
            {
                using var set = LiveSetMap.OpenPinned(state.Interface, name);
                list.Add(set.Counts(name, conf, set.ReadAll().Count));
            }
            catch (BpfException e) when (e.Errno == 2 /* ENOENT: removed in that instant */)
            {
            }
        }
        return list;
    }

    /// <summary>The table's counts: its entries are counted by reading it whole (bounded by its size).</summary>
    private static ConntrackCounts? ReadConntrack(string iface, Dictionary<FwStatSlot, Counter> slots)
    {
        string pin = PinLayout.Conntrack(iface);
        if (!File.Exists(pin))
            return null;
        try
        {
            using var map = BpfMap.OpenPinned(pin);
            uint max = map.MaxEntries;
            int entries = map.Entries<FwCtKey, FwCtEntry>((int)max).Count();
            return new ConntrackCounts(max, entries, slots[FwStatSlot.CtInsert].Total.Packets, slots[FwStatSlot.CtInsertFail].Total.Packets,
                slots[FwStatSlot.CtReuse].Total.Packets, slots[FwStatSlot.CtRemoved].Total.Packets) { TableId = map.Id };
        }
        catch (BpfException e) when (e.Errno == 2 /* ENOENT */)
        {
            return null;   // detached in that instant
        }
    }
}
