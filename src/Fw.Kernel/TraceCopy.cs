using Fw.Bpf;
using Fw.Rules;

namespace Fw.Kernel;

/// <summary>
/// A copy of an attached interface's live generation for fwctl test: the same program with the generation's
/// pinned maps (so exactly the live rules) and the live flow table, read only, but its own fw_stats and trace on,
/// so running packets through it leaves the live counters and flows untouched. Made by <see cref="Firewall.OpenTrace"/>.
/// </summary>
public sealed class TraceCopy : IDisposable
{
    private readonly BpfObject _obj;
    private readonly List<BpfMap> _reused;
    private BpfMap? _table;
    private FwCtConf _conf;

    private TraceCopy(InterfaceState state, BpfObject obj, List<BpfMap> reused)
    {
        State = state;
        _obj = obj;
        _reused = reused;
        ProgramFd = obj.ProgramFd(Classifier.ProgramName);
    }

    /// <summary>The interface's state when the copy was made: its generation, settings and rules.</summary>
    public InterfaceState State { get; }

    public int ProgramFd { get; }

    /// <summary>Loads the copy of <paramref name="state"/>'s generation; owns the state from then on.</summary>
    internal static TraceCopy Load(InterfaceState state, string? objectPath = null)
    {
        var meta = state.Meta;
        string genDir = state.GenerationDir;
        var obj = BpfObject.Open(objectPath ?? Classifier.DefaultObjectPath());
        var reused = new List<BpfMap>();
        BpfMap? table = null;
        try
        {
            obj.SetProgramFrags(Classifier.ProgramName, true);   // as every generation of this build (fwctl test runs it alone)
            // The live table with the live timeouts, read only (fw_readonly): a test run neither adds flows nor
            // refreshes them. Without state, one unused entry of its own.
            var conf = state.ConntrackConf() ?? default;
            var ct = Classifier.SettingsOf(conf);
            string ctPin = PinLayout.Conntrack(state.Interface);
            obj.SetGlobal("fw_readonly", 1u);   // flows, live sets and buckets are read, never written
            if (ct is not null && File.Exists(ctPin))
            {
                table = BpfMap.OpenPinned(ctPin);
                reused.Add(table);
                Classifier.SetConntrack(obj, ct, table);
            }
            else
            {
                Classifier.SetConntrack(obj, null, null);
            }
            Classifier.SetLog(obj, null, null);   // a test run logs nothing
            // The live sets and limits as the generation was loaded with them: its fw_set_conf and fw_rules say.
            var sets = LiveSetConf(genDir);
            var src = sets.Where(c => c.Conf.Fields == (uint)Compiler.FieldMask.Src).ToList();
            var dst = sets.Where(c => c.Conf.Fields == (uint)Compiler.FieldMask.Dst).ToList();
            Classifier.SetLiveSets(obj, src.Count, dst.Count, src.Count > 0 ? src[0].Conf.SetClass : 0,
                dst.Count > 0 ? dst[0].Conf.SetClass : 0, addTo: false);
            string limitsPin = PinLayout.Limits(state.Interface);
            bool limits = HasLimits(genDir, meta.Rules) && File.Exists(limitsPin);
            BpfMap? buckets = limits ? BpfMap.OpenPinned(limitsPin) : null;
            if (buckets is not null)
                reused.Add(buckets);
            Classifier.SetLimits(obj, limits, buckets);
            Classifier.SetSettings(obj, (uint)meta.DefaultAction, (uint)meta.MalformedAction, (uint)meta.NonIpAction, meta.Words, meta.Fields, trace: true);
            // The copy has its own trace map; every other map is the generation's.
            string[] shared = PinLayout.GenerationMaps.Where(m => m != "fw_trace_out").ToArray();
            // A generation pinned by an older build has other maps: say so rather than fail on a missing pin.
            string[] missing = shared.Where(m => !File.Exists(Path.Combine(genDir, m))).ToArray();
            if (missing.Length > 0)
            {
                throw new FirewallException(state.Interface, "trace", FirewallError.OtherBuild,
                    $"{genDir} was loaded by another fw build (it has no {string.Join(", ", missing)}); the filter is unaffected");
            }
            foreach (string map in shared)
            {
                var pinned = BpfMap.OpenPinned(Path.Combine(genDir, map));
                reused.Add(pinned);
                obj.ReuseMap(map, pinned);
            }
            obj.Load();
            return new TraceCopy(state, obj, reused) { _table = table, _conf = conf };
        }
        catch
        {
            obj.Dispose();
            foreach (var m in reused)
                m.Dispose();
            throw;
        }
    }

    /// <summary>The live sets of a pinned generation by slot (its fw_set_conf); none for a generation of an older build.</summary>
    internal static List<(int Slot, FwSetConf Conf)> LiveSetConf(string genDir)
    {
        string pin = Path.Combine(genDir, "fw_set_conf");
        var list = new List<(int, FwSetConf)>();
        if (!File.Exists(pin))
            return list;
        using var map = BpfMap.OpenPinned(pin);
        for (int slot = 0; slot < FwSets.Slots; slot++)
        {
            if (map.TryLookup((uint)slot, out FwSetConf c) && c.NameString.Length > 0)
                list.Add((slot, c));
        }
        return list;
    }

    /// <summary>Whether some rule of a pinned generation has a limit (its fw_rules).</summary>
    private static bool HasLimits(string genDir, uint rules)
    {
        using var map = BpfMap.OpenPinned(Path.Combine(genDir, "fw_rules"));
        for (uint i = 0; i < rules; i++)
        {
            if (map.TryLookup(i, out FwRule r) && (r.Flags & FwRule.Limit) != 0)
                return true;
        }
        return false;
    }

    /// <summary>
    /// The live sets a trace found the packet's source (<paramref name="src"/>) and destination in, each with the
    /// entry that put it there as the pinned set holds it now (null when the entry went in the meantime).
    /// </summary>
    public List<LiveSetHit> SetHits(in FwTrace trace, IpPrefix? src, IpPrefix? dst)
    {
        var hits = new List<LiveSetHit>();
        ulong now = KernelClock.CoarseNs();
        foreach (var (slot, conf) in LiveSets)
        {
            bool isDst = slot >= FwSets.DstSlot && slot < FwSets.DstSlot + FwSets.FieldSlots;
            bool isSrc = slot < FwSets.SrcSlot + FwSets.FieldSlots;
            uint bits = isSrc ? trace.SrcSets : isDst ? trace.DstSets : 0;
            int j = slot - (isSrc ? FwSets.SrcSlot : FwSets.DstSlot);
            var address = isSrc ? src : dst;
            if ((!isSrc && !isDst) || (bits & (1u << j)) == 0 || address is null)
                continue;
            string name = conf.NameString;
            LiveSetEntry? entry = null;
            if (SetName.Problem(name) is null && LiveSetMap.Exists(State.Interface, name))
            {
                using var set = LiveSetMap.OpenPinned(State.Interface, name);
                entry = set.Match(address.Value, now);
            }
            hits.Add(new LiveSetHit(isSrc ? "src" : "dst", name, entry, now));
        }
        return hits;
    }

    /// <summary>The live generation's live sets by slot, for naming what a trace found.</summary>
    public IReadOnlyList<(int Slot, FwSetConf Conf)> LiveSets => _sets ??= LiveSetConf(State.GenerationDir);

    private List<(int Slot, FwSetConf Conf)>? _sets;

    /// <summary>Whether the live generation names state or track: the copy then reads the live flow table.</summary>
    public bool UsesConntrack => _table is not null;

    /// <summary>The live flow of <paramref name="key"/> (a trace's CtKey), or null when it is not in the table (any more).</summary>
    public ConntrackFlow? Flow(in FwCtKey key) =>
        _table is not null && _table.TryLookup(key, out FwCtEntry e) ? ConntrackFlow.From(key, e, Bpf.KernelClock.CoarseSeconds(), _conf) : null;

    /// <summary>Runs one frame: the verdict and the trace (reason, rule index, state and flow).</summary>
    public (XdpAction Verdict, FwTrace Trace) Run(ReadOnlySpan<byte> frame)
    {
        var r = BpfObject.TestRun(ProgramFd, frame);
        return (r.Verdict, _obj.Map("fw_trace_out").Lookup<uint, FwTrace>(0));
    }

    public void Dispose()
    {
        _obj.Dispose();
        foreach (var m in _reused)
            m.Dispose();
        State.Dispose();
    }
}
