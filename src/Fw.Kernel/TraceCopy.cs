using Fw.Bpf;

namespace Fw.Kernel;

/// <summary>
/// A copy of an attached interface's live generation for fwctl test: the same program with the generation's
/// pinned maps (so exactly the live rules), but its own fw_stats and trace on, so running packets through it
/// leaves the live counters untouched. Made by <see cref="Firewall.OpenTrace"/>.
/// </summary>
public sealed class TraceCopy : IDisposable
{
    private readonly BpfObject _obj;
    private readonly List<BpfMap> _reused;

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
        try
        {
            obj.SetProgramFrags(Classifier.ProgramName, true);   // as every generation of this build (fwctl test runs it alone)
            obj.SetMaxEntries(Classifier.ConntrackMap, 1);   // not the live table: a test run must not add flows to it
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
            return new TraceCopy(state, obj, reused);
        }
        catch
        {
            obj.Dispose();
            foreach (var m in reused)
                m.Dispose();
            throw;
        }
    }

    /// <summary>Runs one frame: the verdict and the trace (reason, rule index).</summary>
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
