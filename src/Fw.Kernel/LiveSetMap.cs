using System.Buffers.Binary;
using Fw.Bpf;
using Fw.Rules;

namespace Fw.Kernel;

/// <summary>One entry of a live set: a prefix and its expiry (CLOCK_MONOTONIC_COARSE ns, 0: never).</summary>
public readonly record struct LiveSetEntry(IpPrefix Prefix, ulong ExpiresNs, ulong AddedNs)
{
    /// <summary>Whether it still matches at <paramref name="nowNs"/> (the data plane's rule: now &lt; expiry).</summary>
    public bool LiveAt(ulong nowNs) => ExpiresNs == 0 || nowNs < ExpiresNs;
}

/// <summary>A live set a traced packet's address was in (<paramref name="Field"/> src or dst), and the entry that put it there.</summary>
public sealed record LiveSetHit(string Field, string Set, LiveSetEntry? Entry, ulong NowNs)
{
    /// <summary>Whole seconds the entry has left; null: it has no expiry (or went meanwhile).</summary>
    public ulong? SecondsLeft => Entry is { ExpiresNs: > 0 } e ? (e.ExpiresNs - Math.Min(NowNs, e.ExpiresNs)) / 1_000_000_000UL : null;
}

/// <summary>
/// A live set in the kernel: its LPM trie (struct fw_set_key -> struct fw_set_val, bpf/fw_common.h) and its per-CPU
/// counters (enum fw_set_counter). The control plane makes both for an interface and pins them under
/// <see cref="PinLayout.Set"/>; every generation that names the set reaches them through its fw_sets and
/// fw_set_stats. Element operations only: what a set is called and which generation holds it are
/// <see cref="LiveSets"/>'.
/// </summary>
public sealed class LiveSetMap : IDisposable
{
    private LiveSetMap(BpfMap entries, BpfMap stats)
    {
        Entries = entries;
        Stats = stats;
    }

    /// <summary>The LPM trie.</summary>
    public BpfMap Entries { get; }

    /// <summary>The per-CPU counters.</summary>
    public BpfMap Stats { get; }

    /// <summary>The set's max (the trie's max_entries).</summary>
    public int Max => (int)Entries.MaxEntries;

    /// <summary>A new, empty set of at most <paramref name="max"/> entries, not pinned.</summary>
    public static LiveSetMap Create(string name, int max)
    {
        string mapName = "fw_set_" + (name.Length > 8 ? name[..8] : name);   // the kernel keeps 15 bytes
        var entries = BpfMap.Create(BpfMap.MapType.LpmTrie, mapName, System.Runtime.CompilerServices.Unsafe.SizeOf<FwSetKey>(),
            System.Runtime.CompilerServices.Unsafe.SizeOf<FwSetVal>(), max, BpfMap.NoPrealloc);
        try
        {
            var stats = BpfMap.Create(BpfMap.MapType.PercpuArray, "fw_set_stats", sizeof(uint), sizeof(ulong), (int)FwSetCounter.Count);
            return new LiveSetMap(entries, stats);
        }
        catch
        {
            entries.Dispose();
            throw;
        }
    }

    /// <summary>The interface's pinned set <paramref name="name"/>.</summary>
    public static LiveSetMap OpenPinned(string iface, string name)
    {
        var entries = BpfMap.OpenPinned(PinLayout.SetEntries(iface, name));
        try
        {
            return new LiveSetMap(entries, BpfMap.OpenPinned(PinLayout.SetStats(iface, name)));
        }
        catch
        {
            entries.Dispose();
            throw;
        }
    }

    /// <summary>The set a generation's fw_sets and fw_set_stats (arrays of maps) hold at <paramref name="slot"/>.</summary>
    public static LiveSetMap OfGeneration(string genDir, int slot, string name)
    {
        uint entriesId, statsId;
        using (var sets = BpfMap.OpenPinned(Path.Combine(genDir, "fw_sets")))
            entriesId = sets.Lookup<uint, uint>((uint)slot);
        using (var stats = BpfMap.OpenPinned(Path.Combine(genDir, "fw_set_stats")))
            statsId = stats.Lookup<uint, uint>((uint)slot);
        var entries = BpfMap.OpenById(entriesId, "fw_set_" + name);
        try
        {
            return new LiveSetMap(entries, BpfMap.OpenById(statsId, "fw_set_stats"));
        }
        catch
        {
            entries.Dispose();
            throw;
        }
    }

    /// <summary>Whether the interface has a pinned set of that name.</summary>
    public static bool Exists(string iface, string name) =>
        File.Exists(PinLayout.SetEntries(iface, name)) && File.Exists(PinLayout.SetStats(iface, name));

    /// <summary>Pins both maps in <paramref name="dir"/> (made mode 0700).</summary>
    public void PinTo(string dir)
    {
        Directory.CreateDirectory(dir, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        Entries.Pin(Path.Combine(dir, "entries"));
        Stats.Pin(Path.Combine(dir, "stats"));
    }

    /// <summary>The trie key of a prefix: family word, then the address in network order.</summary>
    public static unsafe FwSetKey KeyOf(IpPrefix p)
    {
        var k = new FwSetKey { PrefixLen = (uint)(FwSets.KeyBits + p.Length), Family = (uint)p.Family };
        Span<byte> b = stackalloc byte[16];
        BinaryPrimitives.WriteUInt128BigEndian(b, p.Bits);   // IPv4 sits in the top 32 bits: addr[0..3]
        for (int i = 0; i < 16; i++)
            k.Addr[i] = b[i];
        return k;
    }

    /// <summary>The prefix of a trie key.</summary>
    public static unsafe IpPrefix PrefixOf(in FwSetKey k)
    {
        Span<byte> b = stackalloc byte[16];
        for (int i = 0; i < 16; i++)
            b[i] = k.Addr[i];
        var family = k.Family == 6 ? IpFamily.V6 : IpFamily.V4;
        return IpPrefix.Create(family, BinaryPrimitives.ReadUInt128BigEndian(b), (int)k.PrefixLen - FwSets.KeyBits);
    }

    /// <summary>
    /// Adds or replaces the entry of <paramref name="prefix"/>. False when the set is full (E2BIG/ENOSPC: nothing changed).
    /// </summary>
    public bool Put(IpPrefix prefix, ulong expiresNs, ulong nowNs)
    {
        var key = KeyOf(prefix);
        var val = new FwSetVal { ExpiresNs = expiresNs, AddedNs = nowNs, PrefixLen = key.PrefixLen };
        try
        {
            Entries.Update(key, val);
            return true;
        }
        catch (BpfException e) when (e.Errno is 7 /* E2BIG */ or 28 /* ENOSPC */)
        {
            return false;
        }
    }

    /// <summary>The entry of exactly <paramref name="prefix"/>, if there is one.</summary>
    public bool TryGet(IpPrefix prefix, out LiveSetEntry entry)
    {
        var key = KeyOf(prefix);
        entry = default;
        if (!Entries.TryLookup(key, out FwSetVal v) || v.PrefixLen != key.PrefixLen)
            return false;   // a lookup finds the longest prefix that covers the key: not this one
        entry = new LiveSetEntry(prefix, v.ExpiresNs, v.AddedNs);
        return true;
    }

    /// <summary>Removes the entry of exactly <paramref name="prefix"/>; false when it was not there.</summary>
    public bool Remove(IpPrefix prefix) => Entries.Delete(KeyOf(prefix));

    /// <summary>
    /// The entry that puts <paramref name="address"/> (a whole address: /32 or /128) in the set at <paramref name="nowNs"/>,
    /// found as the data plane finds it: the longest covering entry, past expired ones (at most <see cref="FwSets.Nest"/> lookups).
    /// </summary>
    public LiveSetEntry? Match(IpPrefix address, ulong nowNs)
    {
        var key = KeyOf(address);
        for (int i = 0; i < FwSets.Nest; i++)
        {
            if (!Entries.TryLookup(key, out FwSetVal v))
                return null;
            var k = key;
            k.PrefixLen = v.PrefixLen;
            var entry = new LiveSetEntry(PrefixOf(k), v.ExpiresNs, v.AddedNs);
            if (entry.LiveAt(nowNs))
                return entry;
            if (v.PrefixLen <= FwSets.KeyBits || v.PrefixLen > key.PrefixLen)
                return null;
            key.PrefixLen = v.PrefixLen - 1;
        }
        return null;
    }

    /// <summary>Every entry (expired ones too), at most the set's max; batched (the kernel's generic batch read of a trie).</summary>
    public List<LiveSetEntry> ReadAll()
    {
        var all = Entries.ReadAllByKey<FwSetKey, FwSetVal>(Max + 1);
        var list = new List<LiveSetEntry>(all.Count);
        foreach (var (k, v) in all)
        {
            if (v.PrefixLen == k.PrefixLen)   // a lookup finds the longest prefix covering the key: this one, unless it went meanwhile
                list.Add(new LiveSetEntry(PrefixOf(k), v.ExpiresNs, v.AddedNs));
        }
        return list;
    }

    /// <summary>
    /// Adds or replaces the entries of <paramref name="prefixes"/>, all with one expiry, batched; returns those the
    /// full set refused (nothing else of the call is undone). Entries already there never need room.
    /// </summary>
    public List<IpPrefix> PutMany(IReadOnlyList<IpPrefix> prefixes, ulong expiresNs, ulong nowNs)
    {
        var keys = new FwSetKey[prefixes.Count];
        var values = new FwSetVal[prefixes.Count];
        for (int i = 0; i < keys.Length; i++)
        {
            keys[i] = KeyOf(prefixes[i]);
            values[i] = new FwSetVal { ExpiresNs = expiresNs, AddedNs = nowNs, PrefixLen = keys[i].PrefixLen };
        }
        var refused = new List<IpPrefix>();
        var (written, errno) = Entries.TryUpdateBatch<FwSetKey, FwSetVal>(keys, values);
        if (errno == 0)
            return refused;
        if (errno is not (7 /* E2BIG */ or 28 /* ENOSPC */))
            throw new BpfException($"update {Entries.Name} ({written:N0} of {keys.Length:N0} entries written)", errno);
        // Full at `written`: the rest one by one (some may be there already and need no room).
        for (int i = written; i < keys.Length; i++)
        {
            if (!Put(prefixes[i], expiresNs, nowNs))
                refused.Add(prefixes[i]);
        }
        return refused;
    }

    /// <summary>Removes the entries of exactly <paramref name="prefixes"/>, batched; returns how many were there.</summary>
    public int RemoveMany(IReadOnlyList<IpPrefix> prefixes)
    {
        var keys = prefixes.Select(KeyOf).ToArray();
        int removed = 0, at = 0;
        while (at < keys.Length)
        {
            var (deleted, errno) = Entries.TryDeleteBatch<FwSetKey>(keys.AsSpan(at));
            removed += deleted;
            at += deleted;
            if (errno == 0)
                break;
            if (errno != 2 /* ENOENT: not there; go on past it */)
                throw new BpfException($"delete from {Entries.Name}", errno);
            at++;
        }
        return removed;
    }

    /// <summary>Its size and counters as stats, metrics and fwctl set list show them (<paramref name="conf"/>: its generation's settings).</summary>
    public LiveSetCounts Counts(string name, in FwSetConf conf, int entries) =>
        new(name, entries, Max, conf.Timeout == 0 ? null : conf.Timeout,
            Counter(FwSetCounter.Added) + Counter(FwSetCounter.AddedCtl), Counter(FwSetCounter.Refreshed),
            Counter(FwSetCounter.Full), Counter(FwSetCounter.Expired), Counter(FwSetCounter.Removed));

    /// <summary>A counter summed over CPUs.</summary>
    public ulong Counter(FwSetCounter c)
    {
        ulong total = 0;
        foreach (ulong n in Stats.LookupPerCpu<uint, ulong>((uint)c))
            total += n;
        return total;
    }

    /// <summary>Adds <paramref name="n"/> to a counter the control plane keeps (CPU 0's value); call under the interface lock.</summary>
    public void Count(FwSetCounter c, ulong n)
    {
        if (n == 0)
            return;
        var perCpu = Stats.LookupPerCpu<uint, ulong>((uint)c);
        perCpu[0] += n;
        Stats.UpdatePerCpu<uint, ulong>((uint)c, perCpu);
    }

    public void Dispose()
    {
        Entries.Dispose();
        Stats.Dispose();
    }
}
