using System.Runtime.InteropServices;
using Fw.Compiler;
using Fw.Rules;

namespace Fw.Kernel;

public sealed class ClassifierOptions
{
    /// <summary>fw_stats to share (the dispatcher's, across generations); null: the object makes its own.</summary>
    public BpfMap? Stats { get; init; }

    /// <summary>fw_stats slot of each rule, by index; null: FW_STAT_RULE_BASE + index.</summary>
    public IReadOnlyList<uint>? StatSlots { get; init; }

    /// <summary>Record each verdict in fw_trace_out (fwctl test and the kernel tests); off for live traffic.</summary>
    public bool Trace { get; init; }

    /// <summary>Interface name to ifindex for redirect targets; default if_nametoindex.</summary>
    public Func<string, int>? ResolveInterface { get; init; }

    /// <summary>The classifier object; default bpf/fw.bpf.o beside the binaries.</summary>
    public string? ObjectPath { get; init; }

    /// <summary>
    /// TEST-ONLY (see <see cref="FaultInjection"/>): max_entries of these maps whatever the image needs, so
    /// that filling them fails in the kernel.
    /// </summary>
    internal IReadOnlyDictionary<string, int>? MaxEntriesOverride { get; init; }
}

/// <summary>The result of one BPF_PROG_TEST_RUN.</summary>
public readonly record struct TestRunResult(XdpAction Verdict, uint DurationNs);

/// <summary>
/// One generation of the ruleset in the kernel: a freshly loaded fw_classify program with its own
/// maps, sized for and filled from one <see cref="MapImage"/>. Nothing here is shared with another
/// generation except fw_stats, so a packet is always classified wholly by one image.
/// </summary>
public sealed unsafe class Classifier : IDisposable
{
    public const string ProgramName = "fw_classify";

    private readonly BpfObject _obj;

    private Classifier(BpfObject obj, MapImage image)
    {
        _obj = obj;
        Image = image;
        ProgramFd = obj.ProgramFd(ProgramName);
    }

    public MapImage Image { get; }
    public int ProgramFd { get; }
    public BpfObject Object => _obj;

    public static string DefaultObjectPath(string name = "fw.bpf.o") => Path.Combine(AppContext.BaseDirectory, "bpf", name);

    public BpfMap Map(string name) => _obj.Map(name);

    public static Classifier Load(MapImage image, ClassifierOptions? options = null)
    {
        options ??= new ClassifierOptions();
        var resolve = options.ResolveInterface ?? ResolveInterface;
        // Resolve what can fail outside the kernel first: nothing is loaded for a ruleset that cannot work.
        var ifindexes = image.Rules.Select(r => r.Action == RuleAction.Redirect ? resolve(r.RedirectTo!) : 0).ToArray();
        var slots = options.StatSlots ?? Enumerable.Range(0, image.Rules.Count).Select(i => (uint)FwStatSlot.RuleBase + (uint)i).ToArray();
        if (slots.Count != image.Rules.Count)
            throw new ArgumentException("one stat slot per rule");

        var obj = BpfObject.Open(options.ObjectPath ?? DefaultObjectPath());
        try
        {
            obj.SetGlobal("fw_default_action", (uint)image.Default);
            obj.SetGlobal("fw_malformed_action", (uint)image.Malformed);
            obj.SetGlobal("fw_non_ip_action", (uint)image.NonIp);
            obj.SetGlobal("fw_words", (uint)image.Words);
            obj.SetGlobal("fw_fields", (uint)image.Fields);
            obj.SetGlobal("fw_trace", options.Trace ? 1u : 0u);
            // An empty map cannot be created: unused maps keep one (unused) slot.
            obj.SetMaxEntries("fw_rules", Math.Max(1, image.Rules.Count));
            obj.SetMaxEntries("fw_rule_names", Math.Max(1, image.Rules.Count));
            obj.SetMaxEntries("fw_bitmaps", Math.Max(1, image.ClassCount));
            obj.SetValueSize("fw_bitmaps", 8 * (1 + image.Words));
            obj.SetMaxEntries("fw_summary", Math.Max(1, image.ClassCount));
            // Class arrays of fields no rule uses are never looked up: one slot each.
            foreach (var (map, table) in new[] { ("fw_proto", image.Proto), ("fw_tcp_flags", image.TcpFlags), ("fw_icmp_type", image.IcmpType) })
            {
                if (table is null)
                    obj.SetMaxEntries(map, 1);
            }
            // Port tables: as many pages as are not uniform (at least one, unused or not).
            obj.SetMaxEntries("fw_sport_page", Math.Max(1, image.SportTable?.PageCount ?? 0));
            obj.SetMaxEntries("fw_dport_page", Math.Max(1, image.DportTable?.PageCount ?? 0));
            // Address tries: as many pages as the generation's trie fills; unused fields keep one page.
            SizeTrie(obj, "fw_src4", image.Src4);
            SizeTrie(obj, "fw_src6", image.Src6);
            SizeTrie(obj, "fw_dst4", image.Dst4);
            SizeTrie(obj, "fw_dst6", image.Dst6);
            foreach (var (map, entries) in options.MaxEntriesOverride ?? new Dictionary<string, int>())
                obj.SetMaxEntries(map, entries);
            if (options.Stats is { } stats)
                obj.ReuseMap("fw_stats", stats);
            obj.Load();

            var c = new Classifier(obj, image);
            c.Fill(ifindexes, slots);
            return c;
        }
        catch
        {
            obj.Dispose();
            throw;
        }
    }

    /// <summary>
    /// A copy of an attached interface's live generation for fwctl test: the same program with the
    /// generation's pinned maps (so exactly the live rules), but its own fw_stats and trace on, so
    /// running packets through it leaves the live counters untouched.
    /// </summary>
    public static TraceCopy LoadTraceCopy(string genDir, FwMeta meta, string? objectPath = null)
    {
        var obj = BpfObject.Open(objectPath ?? DefaultObjectPath());
        var reused = new List<BpfMap>();
        try
        {
            obj.SetGlobal("fw_default_action", (uint)meta.DefaultAction);
            obj.SetGlobal("fw_malformed_action", (uint)meta.MalformedAction);
            obj.SetGlobal("fw_non_ip_action", (uint)meta.NonIpAction);
            obj.SetGlobal("fw_words", meta.Words);
            obj.SetGlobal("fw_fields", meta.Fields);
            obj.SetGlobal("fw_trace", 1u);
            // The copy has its own trace map; every other map is the generation's.
            string[] shared = PinLayout.GenerationMaps.Where(m => m != "fw_trace_out").ToArray();
            // A generation pinned by an older build has other maps: say so rather than fail on a missing pin.
            string[] missing = shared.Where(m => !File.Exists(Path.Combine(genDir, m))).ToArray();
            if (missing.Length > 0)
            {
                throw new BpfException(
                    $"{genDir} was loaded by another fw build (it has no {string.Join(", ", missing)}); the filter is unaffected, " +
                    "and a reload (fwctl reload IFACE --rules FILE) rebuilds it with this one", 0);
            }
            foreach (string map in shared)
            {
                var pinned = BpfMap.OpenPinned(Path.Combine(genDir, map));
                reused.Add(pinned);
                obj.ReuseMap(map, pinned);
            }
            obj.Load();
            return new TraceCopy(obj, reused);
        }
        catch
        {
            obj.Dispose();
            foreach (var m in reused)
                m.Dispose();
            throw;
        }
    }

    /// <summary>A trace-enabled copy of a live generation (see <see cref="LoadTraceCopy"/>).</summary>
    public sealed class TraceCopy(BpfObject obj, List<BpfMap> reused) : IDisposable
    {
        public int ProgramFd { get; } = obj.ProgramFd(ProgramName);

        /// <summary>Runs one frame: the verdict and the trace (reason, rule index).</summary>
        public (XdpAction Verdict, FwTrace Trace) Run(ReadOnlySpan<byte> frame)
        {
            var r = BpfObject.TestRun(ProgramFd, frame);
            return (r.Verdict, obj.Map("fw_trace_out").Lookup<uint, FwTrace>(0));
        }

        public void Dispose()
        {
            obj.Dispose();
            foreach (var m in reused)
                m.Dispose();
        }
    }

    public static int ResolveInterface(string name)
    {
        uint ifindex = Interop.if_nametoindex(name);
        return ifindex != 0 ? (int)ifindex : throw new BpfException($"redirect to {name}: no such interface", 19 /* ENODEV */);
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
                rules[i] = new FwRule { Action = (uint)img.Rules[i].Action, Ifindex = (uint)ifindexes[i], StatSlot = slots[i] };
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
        FillArray("fw_proto", img.Proto);
        FillPorts("fw_sport", img.SportTable);
        FillPorts("fw_dport", img.DportTable);
        FillArray("fw_tcp_flags", img.TcpFlags);
        FillArray("fw_icmp_type", img.IcmpType);
        FillTrie("fw_src4", img.Src4);
        FillTrie("fw_src6", img.Src6);
        FillTrie("fw_dst4", img.Dst4);
        FillTrie("fw_dst6", img.Dst6);
    }

    private void FillArray(string name, uint[]? classes)
    {
        if (classes is null)
            return;
        var keys = new uint[classes.Length];
        for (int i = 0; i < keys.Length; i++)
            keys[i] = (uint)i;
        Map(name).UpdateBatch<uint, uint>(keys, classes);
    }

    /// <summary>The directory and pages of one port field (fw_sport_dir, fw_sport_page).</summary>
    private void FillPorts(string prefix, PortTable? table)
    {
        if (table is null)
            return;
        Map($"{prefix}_dir").UpdatePages<uint>(table.Directory, table.Directory.Length);
        Map($"{prefix}_page").UpdatePages<uint>(table.Pages, FwPort.Page);
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
        Directory.CreateDirectory(dir);
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

    public void Dispose() => _obj.Dispose();
}
