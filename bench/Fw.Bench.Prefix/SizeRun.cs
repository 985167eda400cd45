using System.Buffers.Binary;
using System.Diagnostics;
using Fw.Compiler;
using Fw.Bpf;
using Fw.Bpf;

namespace Fw.Bench.Prefix;

public sealed record Options
{
    public int[] Sizes { get; init; } = [1_000, 100_000, 1_000_000];
    public int Runs { get; init; } = 7;
    public int Repeat { get; init; } = 1_000_000;
    public int Seed { get; init; } = 1;
    public int Classes { get; init; } = 256;
    public int TestAddrs { get; init; } = PbConst.MaxTestAddrs;
    public int Verify { get; init; } = 2_000;
    public bool CreateTimes { get; init; } = true;
    public bool Tails { get; init; } = true;
    public int BuildReps { get; init; } = 3;
    public string ObjectPath { get; init; } = Path.Combine(AppContext.BaseDirectory, "bpf", "prefix_bench.bpf.o");
}

/// <summary>One structure of one family at one size: what it costs to build, write and keep.</summary>
public sealed record StructureResult
{
    public required string Variant { get; init; }
    public required string Family { get; init; }
    public required int Prefixes { get; init; }
    public int Entries { get; init; }
    public string Detail { get; init; } = "";
    public double BuildMs { get; init; }
    public double WriteMs { get; init; }
    public double CreateMs { get; set; } = double.NaN;
    public long MemlockBytes { get; init; }
    public int Mismatches { get; set; }
    public int Verified { get; set; }
    public List<double> Samples { get; } = [];
    public List<double> WallSamples { get; } = [];
}

/// <summary>
/// Everything for one size: generate both families' sets, build each structure in C#, load
/// the object sized for them, write, check every variant against the reference, then time
/// the programs in alternating order.
/// </summary>
public sealed class SizeRun
{
    public static readonly string[] Variants = ["base", "lpm", "hash", "bs", "pop"];

    private readonly Options _o;
    private readonly int _size;
    private readonly TextWriter _log;

    public SizeRun(Options o, int size, TextWriter log)
    {
        _o = o;
        _size = size;
        _log = log;
    }

    public List<StructureResult> Results { get; } = [];

    public void Run()
    {
        var set4 = PrefixSet.Generate(Family.V4, _size, _o.Classes, _o.TestAddrs, _o.Seed);
        var set6 = PrefixSet.Generate(Family.V6, _size, _o.Classes, _o.TestAddrs, _o.Seed);
        _log.WriteLine($"# {_size:N0} prefixes: {set4.Lengths().Length} IPv4 lengths, {set6.Lengths().Length} IPv6 lengths");

        var fam4 = new FamilyImages<Keys4, PbLpm4Key, PbHash4Key>(set4, _o);
        var fam6 = new FamilyImages<Keys6, PbLpm6Key, PbHash6Key>(set6, _o);
        fam4.Build();
        fam6.Build();

        // Map creation alone, per structure: load with only that structure sized, minus a load with none.
        var create = new Dictionary<(string, string), double>();
        if (_o.CreateTimes)
        {
            double none = Median(3, () => TimeLoad(_ => { }));
            foreach (var f in new IFamilyImages[] { fam4, fam6 })
            {
                foreach (string v in Variants[1..])
                    create[(f.Family.Suffix, v)] = Math.Max(0, Median(3, () => TimeLoad(obj => f.Size(obj, v))) - none);
            }
        }

        using var obj = BpfObject.Open(_o.ObjectPath);
        fam4.Configure(obj);
        fam6.Configure(obj);
        foreach (string v in Variants[1..])
        {
            fam4.Size(obj, v);
            fam6.Size(obj, v);
        }
        obj.Load();
        fam4.WriteTests(obj);
        fam6.WriteTests(obj);
        foreach (var f in new IFamilyImages[] { fam4, fam6 })
        {
            foreach (string v in Variants)
            {
                var r = f.Write(obj, v);
                if (create.TryGetValue((f.Family.Suffix, v), out double ms))
                    r.CreateMs = ms;
                Results.Add(r);
                _log.WriteLine($"  {f.Family.Name} {v,-4}: {r.Entries,10:N0} entries {r.Detail}, build {r.BuildMs,7:F1} ms, write {r.WriteMs,7:F1} ms, memlock {r.MemlockBytes / 1048576.0,8:F1} MiB");
            }
        }

        var progs = new List<(StructureResult R, int Fd, ReferenceLpm Ref, UInt128[] Tests)>();
        var ref4 = new ReferenceLpm(set4);
        var ref6 = new ReferenceLpm(set6);
        foreach (var r in Results)
        {
            bool v4 = r.Family == Family.V4.Name;
            progs.Add((r, obj.ProgramFd($"xdp_{r.Variant}{(v4 ? "4" : "6")}"), v4 ? ref4 : ref6, v4 ? set4.TestAddrs : set6.TestAddrs));
        }

        foreach (var p in progs.Where(p => p.R.Variant != "base"))
            Verify(obj, p.R, p.Fd, p.Ref, p.Tests);

        var frame = new byte[64];
        for (int run = 0; run < _o.Runs; run++)
        {
            // Alternate: each round starts one program later, so drift hits every variant alike.
            for (int k = 0; k < progs.Count; k++)
            {
                var p = progs[(k + run) % progs.Count];
                long t0 = Stopwatch.GetTimestamp();
                var res = BpfObject.TestRun(p.Fd, frame, _o.Repeat);
                double wall = Stopwatch.GetElapsedTime(t0).TotalNanoseconds / _o.Repeat;
                if (res.Verdict != XdpAction.Drop)
                    throw new InvalidOperationException($"xdp_{p.R.Variant}{p.R.Family[^1]} returned {res.Verdict}");
                p.R.Samples.Add(res.DurationNs);
                p.R.WallSamples.Add(wall);
            }
            _log.Write($"  run {run + 1}/{_o.Runs}:");
            foreach (var p in progs)
                _log.Write($" {p.R.Variant}{p.R.Family[^1]}={p.R.Samples[^1]}");
            _log.WriteLine();
        }
    }

    /// <summary>Runs each program once per sample and compares the class it wrote with the oracle's.</summary>
    private void Verify(BpfObject obj, StructureResult r, int fd, ReferenceLpm reference, UInt128[] tests)
    {
        var outMap = obj.Map("pb_out");
        int cpus = BpfMap.PossibleCpus;
        var zero = new byte[8 * cpus];
        var frame = new byte[64];
        for (int i = 0; i < _o.Verify; i++)
        {
            outMap.UpdateBatchRaw([0u], zero, zero.Length);
            BpfObject.TestRun(fd, frame, 1);
            var slot = outMap.LookupPerCpu<uint, PbOut>(0).First(o => o.Idx1 != 0);
            var addr = tests[slot.Idx1 - 1];
            uint want = reference.Lookup(addr);
            r.Verified++;
            if (slot.Cls != want && r.Mismatches++ < 5)
            {
                var fam = r.Family == Family.V4.Name ? Family.V4 : Family.V6;
                _log.WriteLine($"  MISMATCH {r.Family} {r.Variant}: {fam.Format(addr, fam.Width)} got {slot.Cls}, want {want}");
            }
        }
        if (r.Mismatches > 0)
            _log.WriteLine($"  {r.Family} {r.Variant}: {r.Mismatches} of {r.Verified} lookups wrong");
    }

    private double TimeLoad(Action<BpfObject> size)
    {
        using var obj = BpfObject.Open(_o.ObjectPath);
        size(obj);
        long t0 = Stopwatch.GetTimestamp();
        obj.Load();
        return Stopwatch.GetElapsedTime(t0).TotalMilliseconds;
    }

    private static double Median(int n, Func<double> f)
    {
        var xs = Enumerable.Range(0, n).Select(_ => f()).Order().ToArray();
        return xs[n / 2];
    }

    /// <summary>A map's charged memory, as bpftool map show prints it (fdinfo "memlock").</summary>
    public static long Memlock(BpfMap map)
    {
        foreach (string line in File.ReadLines($"/proc/self/fdinfo/{map.Fd}"))
        {
            if (line.StartsWith("memlock:", StringComparison.Ordinal))
                return long.Parse(line.AsSpan(8).Trim());
        }
        return -1;
    }
}

public interface IFamilyImages
{
    Family Family { get; }
    void Build();
    void Configure(BpfObject obj);
    void Size(BpfObject obj, string variant);
    void WriteTests(BpfObject obj);
    StructureResult Write(BpfObject obj, string variant);
}

/// <summary>One family's four structures, built once in C# and written on demand.</summary>
public sealed class FamilyImages<TK, TLpm, THash> : IFamilyImages
    where TK : IKeys<TLpm, THash>
    where TLpm : unmanaged
    where THash : unmanaged
{
    private readonly PrefixSet _set;
    private readonly int[] _lengths;
    private KeyedImage<TLpm> _lpm = null!;
    private KeyedImage<THash> _hash = null!, _bs = null!;
    private PopImage _pop = null!;
    private int _markers;
    private readonly Dictionary<string, double> _buildMs = [];

    private readonly Options _o;

    public FamilyImages(PrefixSet set, Options o)
    {
        _set = set;
        _o = o;
        _lengths = set.Lengths();
    }

    public Family Family => TK.Family;
    private string S => Family.Suffix;

    public void Build()
    {
        _lpm = Timed("lpm", () => LpmTrieBuilder.Build<TK, TLpm, THash>(_set));
        _hash = Timed("hash", () => HashBuilder.Build<TK, TLpm, THash>(_set));
        _bs = Timed("bs", () => WaldvogelBuilder.Build<TK, TLpm, THash>(_set, _lengths, out _markers));
        _pop = Timed("pop", () => PopImage.Build(_set, _o.Tails));
        // The builder's own check of the Poptrie before the kernel sees it.
        var reference = new ReferenceLpm(_set);
        foreach (var a in _set.TestAddrs.Take(4096))
        {
            uint got = _pop.Lookup(a), want = reference.Lookup(a);
            if (got != want)
                throw new InvalidOperationException($"Poptrie builder: {Family.Format(a, Family.Width)} -> {got}, want {want}");
        }
    }

    /// <summary>Builds are pure: run each BuildReps times and keep the median time.</summary>
    private T Timed<T>(string name, Func<T> f)
    {
        var times = new List<double>();
        T r = default!;
        for (int i = 0; i < Math.Max(1, _o.BuildReps); i++)
        {
            long t0 = Stopwatch.GetTimestamp();
            r = f();
            times.Add(Stopwatch.GetElapsedTime(t0).TotalMilliseconds);
        }
        _buildMs[name] = Report.Median(times);
        return r;
    }

    public void Configure(BpfObject obj)
    {
        obj.SetGlobal($"pb_n_test{S}", (uint)_set.TestAddrs.Length);
        obj.SetGlobal($"pb_nlens{S}", (uint)_lengths.Length);
        obj.SetGlobal($"pb_default{S}", _set.DefaultClass);
        if (Family.Width == 32)
        {
            var l = default(PbLens4);
            unsafe
            {
                for (int i = 0; i < _lengths.Length; i++)
                    l.Len[i] = (byte)_lengths[i];
            }
            obj.SetGlobal("pb_lens4", l);
        }
        else
        {
            var l = default(PbLens6);
            unsafe
            {
                for (int i = 0; i < _lengths.Length; i++)
                    l.Len[i] = (byte)_lengths[i];
            }
            obj.SetGlobal("pb_lens6", l);
        }
    }

    public void Size(BpfObject obj, string variant)
    {
        switch (variant)
        {
            case "lpm":
                obj.SetMaxEntries($"pb_lpm{S}", _lpm.Keys.Length);
                break;
            case "hash":
                obj.SetMaxEntries($"pb_hash{S}", Math.Max(1, _hash.Keys.Length));
                break;
            case "bs":
                obj.SetMaxEntries($"pb_bs{S}", Math.Max(1, _bs.Keys.Length));
                break;
            case "pop":
                obj.SetMaxEntries($"pb_node{S}", BpfMap.Pages(_pop.Nodes, FwPop.NodePage));
                obj.SetMaxEntries($"pb_leaf{S}", BpfMap.Pages(_pop.Leaves, FwPop.LeafPage));
                obj.SetMaxEntries($"pb_tail{S}", BpfMap.Pages(_pop.Tails, FwPop.TailPage));
                break;
        }
    }

    public void WriteTests(BpfObject obj)
    {
        var keys = Enumerable.Range(0, _set.TestAddrs.Length).Select(i => (uint)i).ToArray();
        if (Family.Width == 32)
        {
            // Network byte order in memory, as the packet holds it.
            var v = _set.TestAddrs.Select(a => (uint)(a >> 96)).Select(h => BitConverter.IsLittleEndian ? BinaryPrimitives.ReverseEndianness(h) : h).ToArray();
            obj.Map("pb_test4").UpdateBatch<uint, uint>(keys, v);
        }
        else
        {
            var v = new PbAddr6[_set.TestAddrs.Length];
            unsafe
            {
                for (int i = 0; i < v.Length; i++)
                {
                    fixed (byte* p = v[i].Addr)
                        BinaryPrimitives.WriteUInt128BigEndian(new Span<byte>(p, 16), _set.TestAddrs[i]);
                }
            }
            obj.Map("pb_test6").UpdateBatch<uint, PbAddr6>(keys, v);
        }
    }

    public StructureResult Write(BpfObject obj, string variant)
    {
        long t0 = Stopwatch.GetTimestamp();
        int entries;
        string detail = "";
        long memlock;
        switch (variant)
        {
            case "base":
                entries = 0;
                memlock = 0;
                break;
            case "lpm":
                WriteKeyed(obj.Map($"pb_lpm{S}"), _lpm.Keys, _lpm.Values);
                entries = _lpm.Keys.Length;
                memlock = SizeRun.Memlock(obj.Map($"pb_lpm{S}"));
                break;
            case "hash":
                WriteKeyed(obj.Map($"pb_hash{S}"), _hash.Keys, _hash.Values);
                entries = _hash.Keys.Length;
                detail = $"({_lengths.Length} lengths)";
                memlock = SizeRun.Memlock(obj.Map($"pb_hash{S}"));
                break;
            case "bs":
                WriteKeyed(obj.Map($"pb_bs{S}"), _bs.Keys, _bs.Values);
                entries = _bs.Keys.Length;
                detail = $"({_markers:N0} markers)";
                memlock = SizeRun.Memlock(obj.Map($"pb_bs{S}"));
                break;
            case "pop":
                if (_pop.V4 is { } t4)
                    WritePop(obj, t4);
                else
                    WritePop(obj, _pop.V6!);
                entries = _pop.Nodes;
                detail = $"nodes, {_pop.Leaves:N0} leaves, {_pop.Tails:N0} tails";
                memlock = new[] { "dir", "node", "leaf", "tail" }.Sum(m => SizeRun.Memlock(obj.Map($"pb_{m}{S}")));
                break;
            default:
                throw new ArgumentException(variant);
        }
        double writeMs = Stopwatch.GetElapsedTime(t0).TotalMilliseconds;
        return new StructureResult
        {
            Variant = variant,
            Family = Family.Name,
            Prefixes = _set.Prefixes.Length,
            Entries = entries,
            Detail = detail,
            BuildMs = _buildMs.GetValueOrDefault(variant),
            WriteMs = variant == "base" ? 0 : writeMs,
            MemlockBytes = memlock,
        };
    }

    private static void WriteKeyed<TKey>(BpfMap map, TKey[] keys, uint[] values)
        where TKey : unmanaged => map.UpdateBatch<TKey, uint>(keys, values);

    /// <summary>One family's Poptrie into its pb_dir, pb_node, pb_leaf and pb_tail maps, as the classifier writes its own.</summary>
    private void WritePop<TTail>(BpfObject obj, Poptrie<TTail> t)
        where TTail : unmanaged, IPopTail<TTail>
    {
        obj.Map($"pb_dir{S}").UpdatePages<uint>(t.Direct, t.Direct.Length);
        obj.Map($"pb_node{S}").UpdatePages<FwPopNode>(t.Nodes, FwPop.NodePage);
        obj.Map($"pb_leaf{S}").UpdatePages<uint>(t.Leaves, FwPop.LeafPage);
        obj.Map($"pb_tail{S}").UpdatePages<TTail>(t.Tails, FwPop.TailPage);
    }
}
