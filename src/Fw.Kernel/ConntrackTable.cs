using Fw.Bpf;

namespace Fw.Kernel;

/// <summary>
/// An interface's flow table (pinned as <see cref="PinLayout.Conntrack"/>) seen from the control plane: its flows,
/// decoded with the live generation's timeouts; the sweep that removes expired entries (correctness never waits
/// for it: the data plane checks expiry where it reads an entry); a flush; and its counts. Works in any process,
/// with or without fwd.
/// </summary>
public sealed class ConntrackTable : IDisposable
{
    private readonly BpfMap _map;
    private readonly InterfaceState _state;

    private ConntrackTable(InterfaceState state, BpfMap map, FwCtConf conf)
    {
        _state = state;
        _map = map;
        Conf = conf;
        Max = map.MaxEntries;
    }

    public string Interface => _state.Interface;

    /// <summary>The table's size as it was made (the conntrack.max of the first stateful ruleset).</summary>
    public uint Max { get; }

    /// <summary>
    /// The live generation's settings. When the live ruleset names no state (or was pinned by an older build), the
    /// table is read with the default timeouts: no packet reads it then, and its flows age out as they would have.
    /// </summary>
    public FwCtConf Conf { get; }

    /// <summary>Whether the live generation uses the table.</summary>
    public bool InUse => Conf.Enabled != 0;

    /// <summary>The interface's table, or null when no ruleset of the interface named state or track.</summary>
    public static ConntrackTable? Open(string iface)
    {
        var state = InterfaceState.Open(iface);
        try
        {
            return Open(state);
        }
        catch
        {
            state.Dispose();
            throw;
        }
    }

    /// <summary>As <see cref="Open(string)"/> over a state read already; owns it from then on (also when it returns null).</summary>
    public static ConntrackTable? Open(InterfaceState state)
    {
        string pin = PinLayout.Conntrack(state.Interface);
        if (!File.Exists(pin))
        {
            state.Dispose();
            return null;
        }
        var map = BpfMap.OpenPinned(pin);
        try
        {
            var conf = state.ConntrackConf() is { Enabled: not 0 } c ? c : DefaultConf();
            return new ConntrackTable(state, map, conf);
        }
        catch
        {
            map.Dispose();
            throw;
        }
    }

    private static unsafe FwCtConf DefaultConf()
    {
        var conf = new FwCtConf();
        for (int p = 0; p < (int)FwCtPhase.Count; p++)
            conf.Timeout[p] = Rules.ConntrackSettings.Default.Timeout(Rules.ConntrackSettings.TimeoutKeys[p]);
        return conf;
    }

    /// <summary>Every entry <paramref name="filter"/> takes, expired or not, decoded at the kernel clock's current second; streamed.</summary>
    public IEnumerable<ConntrackFlow> Flows(ConntrackFilter? filter = null)
    {
        uint now = KernelClock.CoarseSeconds();
        var conf = Conf;
        foreach (var (k, v) in _map.Entries<FwCtKey, FwCtEntry>((int)Max))
        {
            var f = ConntrackFlow.From(k, v, now, conf);
            if (filter is null || filter.Matches(f))
                yield return f;
        }
    }

    /// <summary>The number of entries (expired ones not yet swept included): one read of the whole table.</summary>
    public int CountEntries() => _map.Entries<FwCtKey, FwCtEntry>((int)Max).Count();

    /// <summary>
    /// Removes the expired entries; returns how many. Each is read and deleted in one step, and put back if a packet
    /// revived it in between, so a live flow is never lost to a sweep. Holds the interface's lock: the removed
    /// counter has one writer.
    /// </summary>
    public int Sweep() => Remove(f => f.Expired);

    /// <summary>Removes the entries <paramref name="filter"/> takes, live or not; returns how many.</summary>
    public int Flush(ConntrackFilter filter) => Remove(filter.Matches, flush: true);

    private int Remove(Func<ConntrackFlow, bool> take, bool flush = false)
    {
        using var lk = InterfaceLock.Acquire(Interface);
        int removed = 0;
        foreach (var f in Flows().Where(take).ToList())
        {
            if (!_map.TryLookupAndDelete(f.Key, out FwCtEntry now))
                continue;
            if (!flush && !ConntrackFlow.From(f.Key, now, KernelClock.CoarseSeconds(), Conf).Expired)
            {
                // A packet revived it since it was read: put it back, unless one has made the flow anew meanwhile.
                try
                {
                    _map.Update(f.Key, now, BpfMap.NoExist);
                    continue;
                }
                catch (BpfException e) when (e.Errno == 17 /* EEXIST */ || e.Errno == 7 /* E2BIG */)
                {
                }
            }
            removed++;
        }
        if (removed > 0)
            AddRemoved((ulong)removed);
        return removed;
    }

    /// <summary>Adds to fw_stats' CtRemoved slot (no program writes it) on CPU 0's value.</summary>
    private void AddRemoved(ulong n)
    {
        var perCpu = _state.Counter((uint)FwStatSlot.CtRemoved);
        perCpu[0].Packets += n;
        _state.Stats.UpdatePerCpu<uint, FwCounter>((uint)FwStatSlot.CtRemoved, perCpu);
    }

    public void Dispose()
    {
        _map.Dispose();
        _state.Dispose();
    }
}
