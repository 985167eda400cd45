using Fw.Rules;

namespace Fw.Testing.Reference;

// Live sets as the contract of issue 15 ("Data plane semantics") says them, written plainly: a dictionary of
// prefixes and expiries per set, membership by a walk over the covering entries, longest first. No tries.

/// <summary>What add_to did with a source: the counters of the data plane's fw_set_add.</summary>
public enum AddToOutcome
{
    /// <summary>A new entry, or an expired one added again (counter Added).</summary>
    Added,

    /// <summary>An unexpired entry whose expiry moved on by a second or more, or to never (counter Refreshed).</summary>
    Refreshed,

    /// <summary>An entry already there that stays as it is (no counter).</summary>
    Unchanged,

    /// <summary>A new entry refused: the set holds max entries (counter Full).</summary>
    Full,
}

/// <summary>
/// The live sets of a ruleset: per set name, prefix -> expiry (ns of CLOCK_MONOTONIC_COARSE; 0: never), the
/// set's max, and add_to's counters. Time is whatever the caller says it is.
/// </summary>
public sealed class ReferenceLiveSets
{
    /// <summary>FW_SET_NEST: the lookups one membership test makes, each past one more expired entry.</summary>
    public const int Nest = 8;

    public const ulong NsPerSecond = 1_000_000_000UL;

    sealed class LiveSet(int max)
    {
        public readonly int Max = max;
        public readonly Dictionary<IpPrefix, ulong> Entries = new();
        public long Added, Refreshed, Full;
    }

    readonly Dictionary<string, LiveSet> _sets = new(StringComparer.Ordinal);

    public ReferenceLiveSets()
    {
    }

    /// <summary>Every live set of <paramref name="rs"/>, empty, with its max.</summary>
    public ReferenceLiveSets(Ruleset rs)
    {
        foreach (PrefixSet set in rs.LiveSets)
            Declare(set.Name, set.Max);
    }

    /// <summary>An empty set of at most <paramref name="max"/> entries.</summary>
    public void Declare(string set, int max) => _sets.Add(set, new LiveSet(max));

    public IEnumerable<string> Names => _sets.Keys;

    /// <summary>The entries of a set: prefix -> expiry (0: never), expired ones included until removed.</summary>
    public IReadOnlyDictionary<IpPrefix, ulong> Entries(string set) => Get(set).Entries;

    public long AddedCount(string set) => Get(set).Added;

    public long RefreshedCount(string set) => Get(set).Refreshed;

    public long FullCount(string set) => Get(set).Full;

    /// <summary>
    /// The control plane's put: the entry of <paramref name="prefix"/> is added or replaced. False when the set
    /// already holds max entries and this prefix is not one of them (nothing changes).
    /// </summary>
    public bool Add(string set, IpPrefix prefix, ulong expiresNs)
    {
        LiveSet s = Get(set);
        if (!s.Entries.ContainsKey(prefix) && s.Entries.Count >= s.Max)
            return false;
        s.Entries[prefix] = expiresNs;
        return true;
    }

    /// <summary>Removes the entry of exactly <paramref name="prefix"/>; false when there was none.</summary>
    public bool Remove(string set, IpPrefix prefix) => Get(set).Entries.Remove(prefix);

    /// <summary>An entry is live at <paramref name="nowNs"/> when it never expires or now is before its expiry.</summary>
    public static bool IsLive(ulong expiresNs, ulong nowNs) => expiresNs == 0 || nowNs < expiresNs;

    /// <summary>
    /// Whether the address is in the set at <paramref name="nowNs"/>: among the entries of its family that cover
    /// it, longest first, one of the first <see cref="Nest"/> is live. (The data plane looks up the longest
    /// covering entry; when it has expired, it looks again below its length, <see cref="Nest"/> lookups at most.)
    /// </summary>
    public bool Contains(string set, IpFamily family, UInt128 address, ulong nowNs)
    {
        var covering = Get(set).Entries
            .Where(e => e.Key.Family == family && (address & IpPrefix.MaskOf(e.Key.Length)) == e.Key.Bits)
            .OrderByDescending(e => e.Key.Length)
            .Take(Nest);
        foreach (var entry in covering)
            if (IsLive(entry.Value, nowNs))
                return true;
        return false;
    }

    /// <summary>The same for an address written as a host prefix (a /32 or /128).</summary>
    public bool Contains(string set, IpPrefix host, ulong nowNs) => Contains(set, host.Family, host.Bits, nowNs);

    /// <summary>
    /// add_to: the source address goes into the set as a host entry, expiring at now + timeout (null: never),
    /// as the data plane's fw_set_add does it. An exact entry already there: expired, it is added again with the
    /// new expiry; unexpired with an expiry, it takes the new one when that is never or a second or more later;
    /// otherwise (an entry that never expires, or a later expiry less than a second on) it stays. A new entry
    /// when the set holds max entries (expired ones count until removed) is refused.
    /// </summary>
    public AddToOutcome AddTo(string set, IpFamily family, UInt128 address, uint? timeoutSeconds, ulong nowNs)
    {
        LiveSet s = Get(set);
        var host = IpPrefix.Create(family, address, family == IpFamily.V4 ? 32 : 128);
        ulong expires = timeoutSeconds is uint t ? nowNs + t * NsPerSecond : 0;
        if (s.Entries.TryGetValue(host, out ulong old))
        {
            if (old != 0 && old <= nowNs)
            {
                s.Entries[host] = expires;
                s.Added++;
                return AddToOutcome.Added;
            }
            if (old != 0 && (expires == 0 || expires >= old + NsPerSecond))
            {
                s.Entries[host] = expires;
                s.Refreshed++;
                return AddToOutcome.Refreshed;
            }
            return AddToOutcome.Unchanged;
        }
        if (s.Entries.Count >= s.Max)
        {
            s.Full++;
            return AddToOutcome.Full;
        }
        s.Entries[host] = expires;
        s.Added++;
        return AddToOutcome.Added;
    }

    LiveSet Get(string set) =>
        _sets.TryGetValue(set, out LiveSet? s) ? s : throw new KeyNotFoundException($"no live set '{set}'");
}
