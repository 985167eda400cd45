namespace Fw.Kernel;

/// <summary>
/// The flow table's size and counters. Evictions are derived: every element fw added (inserts that were not a
/// reuse of an existing entry) either is still there, was removed by the control plane (expired, flushed), or was
/// evicted by the LRU to make room. Exact when no packet is inserting while it is read; never negative.
/// </summary>
public sealed record ConntrackCounts(
    uint Max,
    int Entries,
    ulong Inserts,
    ulong InsertFailures,
    ulong Reuses,
    ulong Removed)
{
    /// <summary>The table's map id: a table made anew (detach, attach) has another, and its counts start over.</summary>
    public uint TableId { get; init; }

    public ulong Evictions
    {
        get
        {
            ulong gone = Reuses + Removed + (ulong)Entries;
            return Inserts > gone ? Inserts - gone : 0;
        }
    }

    /// <summary>Entries over max: how full the table is, 0-1.</summary>
    public double Fill => Max == 0 ? 0 : (double)Entries / Max;
}
