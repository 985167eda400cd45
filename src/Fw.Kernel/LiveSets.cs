using Fw.Bpf;
using Fw.Rules;

namespace Fw.Kernel;

/// <summary>A live set as listed: its size, max, timeout and counters, and its entries (expired ones not yet swept too).</summary>
public sealed record LiveSetListing(LiveSetCounts Counts, IReadOnlyList<LiveSetEntry> Entries);

/// <summary>
/// What one operation on a live set did. <paramref name="Added"/>: entries that went in (new, or back after they had
/// expired); <paramref name="Refreshed"/>: live entries whose expiry was renewed; <paramref name="Removed"/>: entries
/// taken out; <paramref name="Absent"/>: prefixes a delete did not find; <paramref name="Refused"/>: adds the full
/// set refused (nothing else of the operation is undone).
/// </summary>
public readonly record struct LiveSetChange(int Added, int Refreshed, int Removed, int Absent = 0, int Refused = 0)
{
    /// <summary>The error of a refused add: how many went in.</summary>
    public string FullError(string iface, string set, int max, int asked) =>
        $"{iface}: live set '{set}' is full ({max:N0} entries): {Added + Refreshed:N0} of {asked:N0} prefixes went in, {Refused:N0} refused";
}

/// <summary>
/// The live sets of an attached interface, operated at run time (fwctl set, fwd's sweep). Which sets there are is
/// what the live generation's fw_set_conf says (their timeouts too); each is reached through its pins
/// (<see cref="LiveSetMap.OpenPinned"/>). Every operation holds the interface's lock, so a reload never swaps a set
/// under it and the control plane's counters (Expired, Removed, AddedCtl, on CPU 0) have one writer. The data plane
/// keeps adding (add_to) meanwhile: an operation reads a set once (a dictionary by prefix) and then writes only the
/// entries it changes, so its cost grows with the set, never with its square.
/// </summary>
public static class LiveSets
{
    private const ulong NsPerSecond = 1_000_000_000UL;

    /// <summary>The live generation's live sets: name to its conf (a set named in src and dst has two slots, one conf).</summary>
    private static SortedDictionary<string, FwSetConf> Confs(string iface)
    {
        var sets = new SortedDictionary<string, FwSetConf>(StringComparer.Ordinal);
        foreach (var (_, conf) in TraceCopy.LiveSetConf(InterfaceState.LiveGenerationDir(iface)))
        {
            if (SetName.Problem(conf.NameString) is null)
                sets.TryAdd(conf.NameString, conf);
        }
        return sets;
    }

    /// <summary>The set <paramref name="name"/> of the live generation, opened; an unknown name is an error naming the sets there are.</summary>
    private static (LiveSetMap Map, FwSetConf Conf) OpenSet(string iface, string name)
    {
        SetName.Checked(name);
        var confs = Confs(iface);
        if (!confs.TryGetValue(name, out var conf) || !LiveSetMap.Exists(iface, name))
            throw UnknownSet(iface, name, confs.Keys);
        return (LiveSetMap.OpenPinned(iface, name), conf);
    }

    private static FirewallException UnknownSet(string iface, string name, IEnumerable<string> known)
    {
        var names = known.ToList();
        string there = names.Count == 0 ? "its live ruleset has no live sets" : "its live sets: " + string.Join(", ", names);
        return new FirewallException(iface, "set", FirewallError.UnknownSet, $"{iface}: no live set '{Printable.Clean(name)}' ({there})");
    }

    /// <summary>The names of the interface's live sets, sorted.</summary>
    public static IReadOnlyList<string> Names(string iface)
    {
        using var lk = InterfaceLock.Acquire(iface);
        return Confs(iface).Keys.ToList();
    }

    /// <summary>Every live set (or only <paramref name="name"/>) with its counts and entries, entries sorted by prefix.</summary>
    public static IReadOnlyList<LiveSetListing> List(string iface, string? name = null)
    {
        using var lk = InterfaceLock.Acquire(iface);
        var confs = Confs(iface);
        if (name is not null)
        {
            SetName.Checked(name);
            if (!confs.ContainsKey(name))
                throw UnknownSet(iface, name, confs.Keys);
        }
        var list = new List<LiveSetListing>();
        foreach (var (setName, conf) in confs)
        {
            if ((name is not null && setName != name) || !LiveSetMap.Exists(iface, setName))
                continue;
            using var set = LiveSetMap.OpenPinned(iface, setName);
            var entries = set.ReadAll();
            entries.Sort((a, b) => a.Prefix.CompareTo(b.Prefix));
            list.Add(new LiveSetListing(set.Counts(setName, conf, entries.Count), entries));
        }
        return list;
    }

    /// <summary>
    /// Puts <paramref name="prefixes"/> into the set, each expiring after <paramref name="timeoutSeconds"/> (null: the
    /// set's timeout; 0: never). A prefix already there gets the new expiry. When the set is full the rest are refused
    /// (<see cref="LiveSetChange.Refused"/>); what went in stays.
    /// </summary>
    public static LiveSetChange Add(string iface, string name, IReadOnlyList<IpPrefix> prefixes, uint? timeoutSeconds = null)
    {
        using var lk = InterfaceLock.Acquire(iface);
        var (set, conf) = OpenSet(iface, name);
        using (set)
        {
            ulong now = KernelClock.CoarseNs();
            ulong expires = ExpiryOf(timeoutSeconds ?? conf.Timeout, now);
            int added = 0, refreshed = 0, refused = 0;
            foreach (var p in prefixes.Distinct())
            {
                bool had = set.TryGet(p, out var old) && old.LiveAt(now);
                if (!set.Put(p, expires, now))
                {
                    refused++;
                    continue;
                }
                if (had)
                    refreshed++;
                else
                    added++;
            }
            set.Count(FwSetCounter.AddedCtl, (ulong)added);
            return new LiveSetChange(added, refreshed, 0, Refused: refused);
        }
    }

    /// <summary>Removes <paramref name="prefixes"/> (exact entries) from the set.</summary>
    public static LiveSetChange Delete(string iface, string name, IReadOnlyList<IpPrefix> prefixes)
    {
        using var lk = InterfaceLock.Acquire(iface);
        var (set, _) = OpenSet(iface, name);
        using (set)
        {
            int removed = 0, absent = 0;
            foreach (var p in prefixes.Distinct())
            {
                if (set.Remove(p))
                    removed++;
                else
                    absent++;
            }
            set.Count(FwSetCounter.Removed, (ulong)removed);
            return new LiveSetChange(0, 0, removed, Absent: absent);
        }
    }

    /// <summary>Removes every entry of the set.</summary>
    public static LiveSetChange Flush(string iface, string name)
    {
        using var lk = InterfaceLock.Acquire(iface);
        var (set, _) = OpenSet(iface, name);
        using (set)
        {
            int removed = set.RemoveMany(set.ReadAll().Select(e => e.Prefix).ToList());
            set.Count(FwSetCounter.Removed, (ulong)removed);
            return new LiveSetChange(0, 0, removed);
        }
    }

    /// <summary>
    /// Makes the set hold exactly <paramref name="prefixes"/>: what is new is added, what is not in the list removed
    /// (first, so the room is there), and what is in both renewed to the set's timeout. A list longer than the set's
    /// max is refused before anything changes.
    /// </summary>
    public static LiveSetChange Sync(string iface, string name, IReadOnlyList<IpPrefix> prefixes)
    {
        using var lk = InterfaceLock.Acquire(iface);
        var (set, conf) = OpenSet(iface, name);
        using (set)
        {
            var wanted = new HashSet<IpPrefix>(prefixes);
            if (wanted.Count > set.Max)
            {
                throw new FirewallException(iface, "set", FirewallError.SetFull,
                    $"{iface}: live set '{name}' holds at most {set.Max:N0} entries; the list has {wanted.Count:N0} (nothing changed)");
            }
            ulong now = KernelClock.CoarseNs();
            var current = set.ReadAll().ToDictionary(e => e.Prefix);
            int removed = set.RemoveMany(current.Keys.Where(p => !wanted.Contains(p)).ToList());
            set.Count(FwSetCounter.Removed, (ulong)removed);
            var list = wanted.ToList();
            var refusedList = set.PutMany(list, ExpiryOf(conf.Timeout, now), now);   // refused: add_to filled the room meanwhile
            var refusedSet = refusedList.ToHashSet();
            int added = 0, refreshed = 0, refused = refusedList.Count;
            foreach (var p in list)
            {
                if (refusedSet.Contains(p))
                    continue;
                if (current.TryGetValue(p, out var old) && old.LiveAt(now))
                    refreshed++;
                else
                    added++;
            }
            set.Count(FwSetCounter.AddedCtl, (ulong)added);
            return new LiveSetChange(added, refreshed, removed, Refused: refused);
        }
    }

    /// <summary>
    /// Removes the expired entries of every live set of the interface (expired at <paramref name="nowNs"/>,
    /// CLOCK_MONOTONIC_COARSE ns); returns how many. Correctness never waits for it (the data plane checks expiry
    /// where it reads an entry): it gives the room back. An entry is looked at again just before its removal, so one
    /// an add_to renewed since the set was read stays.
    /// </summary>
    public static int Sweep(string iface, ulong nowNs)
    {
        using var lk = InterfaceLock.Acquire(iface);
        int total = 0;
        foreach (var name in Confs(iface).Keys)
        {
            if (!LiveSetMap.Exists(iface, name))
                continue;
            using var set = LiveSetMap.OpenPinned(iface, name);
            int expired = 0;
            foreach (var e in set.ReadAll())
            {
                if (e.LiveAt(nowNs))
                    continue;
                if (set.TryGet(e.Prefix, out var again) && !again.LiveAt(nowNs))
                {
                    if (set.Remove(e.Prefix))
                        expired++;
                }
            }
            set.Count(FwSetCounter.Expired, (ulong)expired);
            total += expired;
        }
        return total;
    }

    /// <summary>The expiry of an entry added at <paramref name="nowNs"/> for <paramref name="seconds"/> (0: never).</summary>
    private static ulong ExpiryOf(uint seconds, ulong nowNs) => seconds == 0 ? 0 : nowNs + seconds * NsPerSecond;
}
