using Fw.Compiler;

namespace Fw.Kernel;

/// <summary>
/// The live sets of an interface across generations (<see cref="Firewall"/>'s attach and reload, under the
/// interface lock): a set the new ruleset names and the interface has pinned is kept, entries and counters (its
/// trie is made anew, the entries copied, when its `max` changed); a new one is made empty and pinned before the
/// commit; one no generation names any more is unpinned once the generation that had it is gone.
/// </summary>
internal sealed class LiveSetPins : IDisposable
{
    private readonly string _iface;
    private readonly List<string> _made = [];
    private readonly List<(string Name, LiveSetMap Old)> _resized = [];
    private bool _pinned;

    private LiveSetPins(string iface, Dictionary<string, LiveSetMap> maps)
    {
        _iface = iface;
        Maps = maps;
    }

    /// <summary>The maps the new generation's fw_sets get, by set name.</summary>
    public Dictionary<string, LiveSetMap> Maps { get; }

    /// <summary>Opens or makes every live set of <paramref name="image"/>; nothing is pinned yet.</summary>
    public static LiveSetPins Prepare(string iface, MapImage image)
    {
        var pins = new LiveSetPins(iface, new Dictionary<string, LiveSetMap>(StringComparer.Ordinal));
        try
        {
            foreach (var s in image.LiveSets)
            {
                if (pins.Maps.ContainsKey(s.Name))
                    continue;
                if (!LiveSetMap.Exists(iface, s.Name))
                {
                    pins.Maps[s.Name] = LiveSetMap.Create(s.Name, s.Max);
                    pins._made.Add(s.Name);
                    continue;
                }
                var old = LiveSetMap.OpenPinned(iface, s.Name);
                if (old.Max == s.Max)
                {
                    pins.Maps[s.Name] = old;
                    continue;
                }
                // A new max: a new trie (an LPM trie's bound is fixed at creation) with the entries that fit, the counters kept.
                var fresh = LiveSetMap.Create(s.Name, s.Max);
                pins._resized.Add((s.Name, old));
                pins.Maps[s.Name] = fresh;
                ulong now = Fw.Bpf.KernelClock.CoarseNs();
                foreach (var e in old.ReadAll().Where(e => e.LiveAt(now)).OrderBy(e => e.ExpiresNs == 0 ? ulong.MaxValue : e.ExpiresNs).Reverse().Take(s.Max))
                    fresh.Put(e.Prefix, e.ExpiresNs, e.AddedNs);
                for (var c = FwSetCounter.Added; c < FwSetCounter.Count; c++)
                    fresh.Count(c, old.Counter(c));
            }
            return pins;
        }
        catch
        {
            pins.Dispose();
            throw;
        }
    }

    /// <summary>Pins the sets made new (before the commit: the generation about to be committed names them).</summary>
    public void PinNew()
    {
        foreach (string name in _made)
        {
            Fw.Bpf.OwnDirectory.Ensure(PinLayout.Sets(_iface));
            string dir = PinLayout.Set(_iface, name);
            PinLayout.RemoveTree(dir);   // a half-pinned set of a crashed reload
            Maps[name].PinTo(dir);
        }
        _pinned = true;
    }

    /// <summary>The reload did not switch: the sets made for it are unpinned (the running generation never had them).</summary>
    public void Rollback()
    {
        if (!_pinned)
            return;
        foreach (string name in _made)
            PinLayout.RemoveTree(PinLayout.Set(_iface, name));
    }

    /// <summary>
    /// After the switch: a set whose max changed is pinned anew (the new generation uses the new trie; the old one
    /// lives on while a generation pinned for confirmation still refers to it).
    /// </summary>
    public void Switched()
    {
        foreach (var (name, _) in _resized)
        {
            string dir = PinLayout.Set(_iface, name);
            PinLayout.RemoveTree(dir);
            Maps[name].PinTo(dir);
        }
    }

    /// <summary>Unpins the live sets of the interface that none of <paramref name="keep"/> names.</summary>
    public static void RemoveUnused(string iface, IEnumerable<string> keep)
    {
        string root = PinLayout.Sets(iface);
        if (!Directory.Exists(root))
            return;
        var names = keep.ToHashSet(StringComparer.Ordinal);
        foreach (string dir in Directory.GetDirectories(root))
        {
            if (!names.Contains(Path.GetFileName(dir)))
                PinLayout.RemoveTree(dir);
        }
        foreach (string file in Directory.GetFiles(root))
            PinLayout.RemoveTree(file);   // nothing but set directories belongs here
    }

    /// <summary>
    /// After a revert to the generation in <paramref name="genDir"/>: each of its live sets pinned as the very maps
    /// it uses (a reload that changed a set's max pinned a new trie the reverted-to generation never had), and the
    /// sets it does not name unpinned.
    /// </summary>
    public static void PinAsIn(string iface, string genDir)
    {
        foreach (var (slot, conf) in TraceCopy.LiveSetConf(genDir).DistinctBy(s => s.Conf.NameString))
        {
            string name = conf.NameString;
            using var used = LiveSetMap.OfGeneration(genDir, slot, name);
            if (LiveSetMap.Exists(iface, name))
            {
                using var pinned = LiveSetMap.OpenPinned(iface, name);
                if (pinned.Entries.Id == used.Entries.Id && pinned.Stats.Id == used.Stats.Id)
                    continue;
            }
            Fw.Bpf.OwnDirectory.Ensure(PinLayout.Sets(iface));
            string dir = PinLayout.Set(iface, name);
            PinLayout.RemoveTree(dir);
            used.PinTo(dir);
        }
        RemoveUnused(iface, NamesOf(genDir));
    }

    /// <summary>The live set names of the interface's pinned generation <paramref name="genDir"/>.</summary>
    public static IEnumerable<string> NamesOf(string genDir) => TraceCopy.LiveSetConf(genDir).Select(s => s.Conf.NameString).Distinct();

    public void Dispose()
    {
        foreach (var m in Maps.Values)
            m.Dispose();
        foreach (var (_, old) in _resized)
            old.Dispose();
    }
}
