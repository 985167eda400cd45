using System.Runtime.InteropServices;
using Fw.Bpf;
using Fw.Compiler;
using Fw.Rules;

namespace Fw.Kernel;

/// <summary>
/// One generation of the ruleset in the kernel: a freshly loaded fw_classify program with its own
/// maps, sized for and filled from one <see cref="MapImage"/>. Nothing here is shared with another
/// generation except fw_stats, so a packet is always classified wholly by one image.
/// </summary>
public sealed unsafe class Classifier : IDisposable
{
    public const string ProgramName = "fw_classify";

    private readonly BpfObject _obj;
    private readonly IReadOnlyDictionary<string, LiveSetMap> _liveSets;
    private readonly bool _ownsLiveSets;

    private Classifier(BpfObject obj, MapImage image, IReadOnlyDictionary<string, LiveSetMap> liveSets, bool ownsLiveSets)
    {
        _obj = obj;
        Image = image;
        ProgramFd = obj.ProgramFd(ProgramName);
        _liveSets = liveSets;
        _ownsLiveSets = ownsLiveSets;
    }

    /// <summary>A live set of the generation by name (its own when it made them: see <see cref="ClassifierOptions.LiveSets"/>).</summary>
    public LiveSetMap LiveSet(string name) => _liveSets[name];

    public MapImage Image { get; }
    public int ProgramFd { get; }
    public BpfObject Object => _obj;

    public static string DefaultObjectPath(string name = "fw.bpf.o") => Path.Combine(AppContext.BaseDirectory, "bpf", name);

    public BpfMap Map(string name) => _obj.Map(name);

    public static Classifier Load(MapImage image, ClassifierOptions? options = null)
    {
        options ??= new ClassifierOptions();
        var resolve = options.ResolveInterface ?? NetInterface.Index;
        // Resolve what can fail outside the kernel first: nothing is loaded for a ruleset that cannot work.
        var ifindexes = image.Rules.Select(r => r.Action == RuleAction.Redirect ? resolve(r.RedirectTo!) : 0).ToArray();
        var slots = options.StatSlots ?? StatSlots.Initial(image.Rules.Count);
        if (slots.Count != image.Rules.Count)
            throw new ArgumentException("one stat slot per rule");

        var names = image.LiveSets.Select(s => s.Name).Distinct().ToList();
        bool ownSets = options.LiveSets is null;
        var liveSets = options.LiveSets ?? MakeLiveSets(image);
        if (names.FirstOrDefault(n => !liveSets.ContainsKey(n)) is { } lacking)
            throw new ArgumentException($"no map for live set '{lacking}'");
        BpfObject? obj = null;
        try
        {
            obj = BpfObject.Open(options.ObjectPath ?? DefaultObjectPath());
            SetSettings(obj, (uint)image.Default, (uint)image.Malformed, (uint)image.NonIp, (uint)image.Words, (uint)image.Fields, options.Trace);
            SetConntrack(obj, image.Conntrack, options.Conntrack);
            SetLog(obj, image.Log, options.Log);
            SetLiveSets(obj, image.SrcSets, image.DstSets, image.SrcSetClass, image.DstSetClass, image.UsesAddTo);
            SetLimits(obj, image.UsesLimits, options.Limits);
            // An empty map cannot be created: unused maps keep one (unused) slot.
            obj.SetMaxEntries("fw_rules", Math.Max(1, image.Rules.Count));
            obj.SetMaxEntries("fw_rule_names", Math.Max(1, image.Rules.Count));
            obj.SetMaxEntries("fw_bitmaps", Math.Max(1, image.ClassCount));
            obj.SetValueSize("fw_bitmaps", 8 * (1 + image.Words));
            obj.SetMaxEntries("fw_summary", Math.Max(1, image.ClassCount));
            foreach (var f in MatchFields.All)
                SizeField(obj, image, f);
            foreach (var (map, entries) in options.MaxEntriesOverride ?? new Dictionary<string, int>())
                obj.SetMaxEntries(map, entries);
            if (options.Stats is { } stats)
                obj.ReuseMap("fw_stats", stats);
            obj.SetProgramFrags(ProgramName, options.Frags);
            obj.Load();

            var c = new Classifier(obj, image, liveSets, ownSets);
            c.Fill(ifindexes, slots);
            return c;
        }
        catch
        {
            obj?.Dispose();
            if (ownSets)
            {
                foreach (var set in liveSets.Values)
                    set.Dispose();
            }
            throw;
        }
    }

    /// <summary>Private empty live sets for a classifier loaded alone (tests, benchmarks).</summary>
    private static Dictionary<string, LiveSetMap> MakeLiveSets(MapImage image)
    {
        var sets = new Dictionary<string, LiveSetMap>(StringComparer.Ordinal);
        try
        {
            foreach (var s in image.LiveSets)
            {
                if (!sets.ContainsKey(s.Name))
                    sets[s.Name] = LiveSetMap.Create(s.Name, s.Max);
            }
            return sets;
        }
        catch
        {
            foreach (var set in sets.Values)
                set.Dispose();
            throw;
        }
    }

    /// <summary>The live sets' settings (bpf/fw_sets.h, fixed at load): how many each field names, their membership classes.</summary>
    internal static void SetLiveSets(BpfObject obj, int srcSets, int dstSets, uint srcClass, uint dstClass, bool addTo)
    {
        obj.SetGlobal("fw_src_sets", (uint)srcSets);
        obj.SetGlobal("fw_dst_sets", (uint)dstSets);
        obj.SetGlobal("fw_src_set_class", srcClass);
        obj.SetGlobal("fw_dst_set_class", dstClass);
        obj.SetGlobal("fw_add_to", addTo ? 1u : 0u);
    }

    /// <summary>The limits' buckets: the interface's shared map, or the object's own (FW_LIMIT_ENTRIES when some rule has a limit, else 1).</summary>
    internal static void SetLimits(BpfObject obj, bool used, BpfMap? shared)
    {
        obj.SetGlobal("fw_limits", used ? 1u : 0u);
        if (shared is not null)
            obj.ReuseMap(LimitMap, shared);
        else
            obj.SetMaxEntries(LimitMap, used ? FwSets.LimitEntries : 1);
    }

    private void Fill(int[] ifindexes, IReadOnlyList<uint> slots)
    {
        var img = Image;
        int n = img.Rules.Count;
        if (n > 0)
        {
            var keys = Enumerable.Range(0, n).Select(i => (uint)i).ToArray();
            var rules = new FwRule[n];
            var names = new FwRuleName[n];
            for (int i = 0; i < n; i++)
            {
                rules[i] = Entry(img.Rules[i], (uint)ifindexes[i], slots[i]);
                names[i] = FwRuleName.From(img.Rules[i].Name);
            }
            Map("fw_rules").UpdateBatch<uint, FwRule>(keys, rules);
            Map("fw_rule_names").UpdateBatch<uint, FwRuleName>(keys, names);
            foreach (int ifindex in ifindexes.Where(i => i != 0).Distinct())
                Map("fw_tx").Update((uint)ifindex, (uint)ifindex);
        }
        if (img.ClassCount > 0)
        {
            var keys = Enumerable.Range(0, img.ClassCount).Select(i => (uint)i).ToArray();
            Map("fw_bitmaps").UpdateBatchRaw(keys, MemoryMarshal.AsBytes(img.Bitmaps.AsSpan()), 8 * (1 + img.Words));
            var summaries = new ulong[img.ClassCount];
            for (int i = 0; i < summaries.Length; i++)
                summaries[i] = img.Bitmaps[i * (1 + img.Words)];
            Map("fw_summary").UpdateBatch<uint, ulong>(keys, summaries);
        }
        foreach (var f in MatchFields.All)
            FillField(img, f);
        Map("fw_ct_conf").Update(0u, Conf(img.Conntrack));
        foreach (var s in img.LiveSets)
        {
            var set = _liveSets[s.Name];
            Map("fw_sets").Update((uint)s.Slot, (uint)set.Entries.Fd);
            Map("fw_set_stats").Update((uint)s.Slot, (uint)set.Stats.Fd);
            var conf = new FwSetConf
            {
                Timeout = s.Timeout ?? 0, Max = (uint)s.Max, Fields = (uint)s.Field,
                SetClass = s.Field == FieldMask.Src ? img.SrcSetClass : s.Field == FieldMask.Dst ? img.DstSetClass : 0,
            };
            conf.NameString = s.Name;
            Map("fw_set_conf").Update((uint)s.Slot, conf);
        }
    }

    /// <summary>A rule as fw_rules holds it (struct fw_rule).</summary>
    private static FwRule Entry(RuleEntry r, uint ifindex, uint slot)
    {
        var e = new FwRule
        {
            Action = (uint)r.Action, Ifindex = ifindex, StatSlot = slot,
            Flags = r.Track ? FwRule.Track : 0, LogEvery = r.LogEvery,
        };
        if (r.AddToSlot is { } set)
        {
            e.Flags |= FwRule.AddTo;
            e.AddSet = (byte)set;
            e.AddTimeoutNs = (r.AddTimeout ?? 0) * 1_000_000_000UL;
        }
        if (r.Limit is { } l)
        {
            e.Flags |= FwRule.Limit | (r.Action == RuleAction.Pass ? FwRule.Quota : 0) | (l.PerRule ? FwRule.LimitPerRule : 0);
            e.LimitNs = l.IntervalNs;
            e.LimitTolNs = l.ToleranceNs;
            e.LimitLen4 = l.Len4;
            e.LimitLen6 = l.Len6;
        }
        return e;
    }

    /// <summary>fw_ct_conf: the settings this generation's classifier was loaded with, for the control plane.</summary>
    private static unsafe FwCtConf Conf(Rules.ConntrackSettings? ct)
    {
        var conf = new FwCtConf { Enabled = ct is null ? 0u : 1u, Max = (uint)(ct?.Max ?? 0) };
        var s = ct ?? Rules.ConntrackSettings.Default;
        for (int p = 0; p < (int)FwCtPhase.Count; p++)
            conf.Timeout[p] = s.Timeout(Rules.ConntrackSettings.TimeoutKeys[p]);
        return conf;
    }

    /// <summary>The settings a generation was loaded with, read back from its fw_ct_conf; null when it names no state.</summary>
    internal static unsafe Rules.ConntrackSettings? SettingsOf(FwCtConf conf)
    {
        if (conf.Enabled == 0)
            return null;
        var s = Rules.ConntrackSettings.Default with { Max = (int)conf.Max };
        for (int p = 0; p < (int)FwCtPhase.Count; p++)
            s = s.WithTimeout(Rules.ConntrackSettings.TimeoutKeys[p], conf.Timeout[p]);
        return s;
    }

    /// <summary>
    /// The flow table's settings (bpf/fw_conntrack.h, fixed at load) and the table itself: the interface's shared one,
    /// or one of this object's own sized conntrack.max; without state or track, one unused entry and no lookups.
    /// </summary>
    internal static void SetConntrack(BpfObject obj, Rules.ConntrackSettings? ct, BpfMap? shared)
    {
        obj.SetGlobal("fw_ct_enabled", ct is null ? 0u : 1u);
        if (ct is not null)
        {
            foreach (string key in Rules.ConntrackSettings.TimeoutKeys)
                obj.SetGlobal($"fw_ct_timeout_{key}", ct.Timeout(key));
        }
        if (shared is not null)
            obj.ReuseMap(ConntrackMap, shared);
        else
            obj.SetMaxEntries(ConntrackMap, ct?.Max ?? 1);
    }

    /// <summary>
    /// The packet log's settings (bpf/fw_log.h, fixed at load) and its maps: the interface's shared ones, or the
    /// object's own (a 4 MiB ring when something is logged, one unused page when nothing is).
    /// </summary>
    internal static void SetLog(BpfObject obj, Rules.LogSettings? log, (BpfMap Ring, BpfMap Bucket)? shared)
    {
        obj.SetGlobal("fw_log_enabled", log is null ? 0u : 1u);
        if (log is not null)
        {
            obj.SetGlobal("fw_log_rate", (uint)log.Rate);
            obj.SetGlobal("fw_log_snaplen", (uint)log.Snaplen);
            obj.SetGlobal("fw_log_default_every", log.DefaultEvery ?? 0);
            obj.SetGlobal("fw_log_malformed_every", log.MalformedEvery ?? 0);
            obj.SetGlobal("fw_log_non_ip_every", log.NonIpEvery ?? 0);
        }
        if (shared is { } maps)
        {
            obj.ReuseMap(LogMap, maps.Ring);
            obj.ReuseMap(LogBucketMap, maps.Bucket);
        }
        else
        {
            obj.SetMaxEntries(LogMap, log is null ? 4096 : LogBytes);
        }
    }

    /// <summary>The packet log's ring (bpf/fw_maps.h), shared by every generation and pinned as PinLayout.Log.</summary>
    public const string LogMap = "fw_log";

    /// <summary>Its token bucket, pinned as PinLayout.LogBucket.</summary>
    public const string LogBucketMap = "fw_log_bucket";

    /// <summary>The ring's size while something is logged: about 14,000 records, what 10 ms of a reader's polls hold at 1.4 M records a second.</summary>
    public const int LogBytes = 4 << 20;

    /// <summary>The limits' buckets (bpf/fw_maps.h), shared by every generation and pinned as PinLayout.Limits.</summary>
    public const string LimitMap = "fw_limit";

    /// <summary>The flow table's map (bpf/fw_maps.h), shared by every generation and pinned as PinLayout.Conntrack.</summary>
    public const string ConntrackMap = "fw_ct";

    /// <summary>The const volatile settings of bpf/fw.bpf.c, fixed at load.</summary>
    internal static void SetSettings(BpfObject obj, uint defaultAction, uint malformed, uint nonIp, uint words, uint fields, bool trace)
    {
        obj.SetGlobal("fw_default_action", defaultAction);
        obj.SetGlobal("fw_malformed_action", malformed);
        obj.SetGlobal("fw_non_ip_action", nonIp);
        obj.SetGlobal("fw_words", words);
        obj.SetGlobal("fw_fields", fields);
        obj.SetGlobal("fw_trace", trace ? 1u : 0u);
    }

    /// <summary>
    /// Sizes one field's maps for the image: byte arrays keep their size (one slot when unused: never looked up),
    /// port pages and trie pages as many as the image fills (at least one, used or not).
    /// </summary>
    private static void SizeField(BpfObject obj, MapImage image, MatchField f)
    {
        string name = $"fw_{f.Name}";
        switch (f.Kind)
        {
            case FieldKind.Byte:
                if (image.ByteClasses(f) is null)
                    obj.SetMaxEntries(name, 1);
                break;
            case FieldKind.Port:
                obj.SetMaxEntries($"{name}_page", Math.Max(1, image.Ports(f)?.PageCount ?? 0));
                break;
            default:
                var (v4, v6) = image.Tries(f);
                SizeTrie(obj, $"{name}4", v4);
                SizeTrie(obj, $"{name}6", v6);
                break;
        }
    }

    /// <summary>Writes one field's maps; an unused field's stay empty.</summary>
    private void FillField(MapImage image, MatchField f)
    {
        string name = $"fw_{f.Name}";
        switch (f.Kind)
        {
            case FieldKind.Byte:
                if (image.ByteClasses(f) is { } classes)
                {
                    var keys = new uint[classes.Length];
                    for (int i = 0; i < keys.Length; i++)
                        keys[i] = (uint)i;
                    Map(name).UpdateBatch<uint, uint>(keys, classes);
                }
                break;
            case FieldKind.Port:
                if (image.Ports(f) is { } table)
                {
                    Map($"{name}_dir").UpdatePages<uint>(table.Directory, table.Directory.Length);
                    Map($"{name}_page").UpdatePages<uint>(table.Pages, FwPort.Page);
                }
                break;
            default:
                var (v4, v6) = image.Tries(f);
                FillTrie($"{name}4", v4);
                FillTrie($"{name}6", v6);
                break;
        }
    }

    /// <summary>Each paged map of one field and family's Poptrie gets as many pages as its items fill.</summary>
    private static void SizeTrie<TTail>(BpfObject obj, string prefix, Poptrie<TTail>? trie)
        where TTail : unmanaged, IPopTail<TTail>
    {
        obj.SetMaxEntries($"{prefix}_node", BpfMap.Pages(trie?.Nodes.Length ?? 0, FwPop.NodePage));
        obj.SetMaxEntries($"{prefix}_leaf", BpfMap.Pages(trie?.Leaves.Length ?? 0, FwPop.LeafPage));
        obj.SetMaxEntries($"{prefix}_tail", BpfMap.Pages(trie?.Tails.Length ?? 0, FwPop.TailPage));
    }

    /// <summary>The four maps of one field and family's Poptrie (fw_src4_dir, _node, _leaf, _tail).</summary>
    private void FillTrie<TTail>(string prefix, Poptrie<TTail>? trie)
        where TTail : unmanaged, IPopTail<TTail>
    {
        if (trie is null)
            return;
        Map($"{prefix}_dir").UpdatePages<uint>(trie.Direct, trie.Direct.Length);
        Map($"{prefix}_node").UpdatePages<FwPopNode>(trie.Nodes, FwPop.NodePage);
        Map($"{prefix}_leaf").UpdatePages<uint>(trie.Leaves, FwPop.LeafPage);
        Map($"{prefix}_tail").UpdatePages<TTail>(trie.Tails, FwPop.TailPage);
    }

    /// <summary>Runs one frame through the program (BPF_PROG_TEST_RUN); repeat for timing.</summary>
    public TestRunResult TestRun(ReadOnlySpan<byte> frame, int repeat = 1) => BpfObject.TestRun(ProgramFd, frame, repeat);

    /// <summary>Pins the program and every map of this generation (not the shared fw_stats) into dir.</summary>
    public void PinTo(string dir)
    {
        Directory.CreateDirectory(dir, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        _obj.PinProgram(ProgramName, Path.Combine(dir, PinLayout.ClassifierPin));
        foreach (string map in PinLayout.GenerationMaps)
            Map(map).Pin(Path.Combine(dir, map));
    }

    /// <summary>The last traced verdict (needs <see cref="ClassifierOptions.Trace"/>).</summary>
    public FwTrace ReadTrace() => Map("fw_trace_out").Lookup<uint, FwTrace>(0);

    /// <summary>A fw_stats slot summed over CPUs.</summary>
    public FwCounter ReadCounter(uint slot)
    {
        var total = default(FwCounter);
        foreach (var c in Map("fw_stats").LookupPerCpu<uint, FwCounter>(slot))
        {
            total.Packets += c.Packets;
            total.Bytes += c.Bytes;
        }
        return total;
    }

    public void Dispose()
    {
        _obj.Dispose();
        if (_ownsLiveSets)
        {
            foreach (var set in _liveSets.Values)
                set.Dispose();
        }
    }
}
