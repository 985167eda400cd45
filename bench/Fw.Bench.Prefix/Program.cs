using System.Globalization;
using System.Runtime.InteropServices;
using System.Text.Json;
using Fw.Bench.Prefix;
using Fw.Compiler;
using Fw.Bpf;
using Fw.Bpf;

// Longest-prefix match in XDP: LPM trie vs hash-per-length vs binary search on lengths vs
// Poptrie, at several sizes, both families. Needs root (BPF_PROG_TEST_RUN, map creation).
// Usage: Fw.Bench.Prefix [--sizes 1000,100000,1000000] [--runs 7] [--repeat 1000000]
//        [--seed 1] [--classes 256] [--verify 2000] [--build-reps 3] [--no-create-times]
//        [--no-tails] [--sets-only] [--json FILE]

const string Usage = "usage: Fw.Bench.Prefix [--sizes N,N,...] [--runs R] [--repeat N] [--seed S] [--classes C] [--verify N] [--build-reps N] [--no-create-times] [--no-tails] [--sets-only] [--json FILE]";
var o = new Options();
string? json = null;
bool setsOnly = false;
try
{
    for (int i = 0; i < args.Length; i++)
    {
        string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value");
        switch (args[i])
        {
            case "--sizes": o = o with { Sizes = Next().Split(',').Select(int.Parse).ToArray() }; break;
            case "--runs": o = o with { Runs = int.Parse(Next()) }; break;
            case "--repeat": o = o with { Repeat = int.Parse(Next()) }; break;
            case "--seed": o = o with { Seed = int.Parse(Next()) }; break;
            case "--classes": o = o with { Classes = int.Parse(Next()) }; break;
            case "--verify": o = o with { Verify = int.Parse(Next()) }; break;
            case "--no-create-times": o = o with { CreateTimes = false }; break;
            case "--no-tails": o = o with { Tails = false }; break;
            case "--build-reps": o = o with { BuildReps = int.Parse(Next()) }; break;
            case "--json": json = Next(); break;
            case "--sets-only": setsOnly = true; break;
            case "-h" or "--help": Console.WriteLine(Usage); return 0;
            default: throw new ArgumentException($"unknown option {args[i]}");
        }
    }
}
catch (Exception e) when (e is ArgumentException or FormatException)
{
    Console.Error.WriteLine($"Fw.Bench.Prefix: {e.Message}");
    Console.Error.WriteLine(Usage);
    return 2;
}

var log = Console.Error;
string machine = $"kernel {File.ReadAllText("/proc/sys/kernel/osrelease").Trim()}, CPUs {File.ReadAllText("/sys/devices/system/cpu/online").Trim()} online "
    + $"({Cpu()}), this process on {Environment.ProcessorCount}, .NET {Environment.Version}";
log.WriteLine($"# {machine}");
log.WriteLine($"# runs {o.Runs} x repeat {o.Repeat:N0}, seed {o.Seed}, {o.Classes} classes, {o.TestAddrs:N0} test addresses per family{(o.Tails ? "" : ", Poptrie without tails")}");

if (setsOnly)
{
    // The prefix sets alone, no kernel: lengths and what the LPM trie adds beyond its memlock.
    foreach (int size in o.Sizes)
    {
        foreach (var f in new[] { Family.V4, Family.V6 })
        {
            var set = PrefixSet.Generate(f, size, o.Classes, o.TestAddrs, o.Seed);
            var hist = set.Prefixes.GroupBy(p => p.Len).OrderByDescending(g => g.Count()).Take(6).Select(g => $"/{g.Key} {100.0 * g.Count() / set.Prefixes.Length:F0}%");
            Console.WriteLine($"{f.Name} {size:N0}: {set.Lengths().Length} lengths ({string.Join(", ", hist)}), "
                + $"LPM trie intermediate nodes {set.LpmIntermediateNodes():N0}");
        }
    }
    return 0;
}

try
{
    Check.Layouts(o.ObjectPath);
    Check.Warmup(o);

    var all = new List<(int Size, StructureResult R)>();
    foreach (int size in o.Sizes)
    {
        var run = new SizeRun(o, size, log);
        run.Run();
        all.AddRange(run.Results.Select(r => (size, r)));
    }

    Report.Table(Console.Out, all, o, machine);
    if (json != null)
    {
        var doc = new
        {
            machine,
            options = o,
            results = all.Select(x => new
            {
                size = x.Size,
                x.R.Family,
                x.R.Variant,
                x.R.Prefixes,
                x.R.Entries,
                x.R.Detail,
                x.R.BuildMs,
                x.R.WriteMs,
                createMs = double.IsNaN(x.R.CreateMs) ? (double?)null : x.R.CreateMs,
                x.R.MemlockBytes,
                x.R.Verified,
                x.R.Mismatches,
                samplesNs = x.R.Samples,
                wallNs = x.R.WallSamples,
            }),
        };
        File.WriteAllText(json, JsonSerializer.Serialize(doc, new JsonSerializerOptions { WriteIndented = true }));
    }
    return all.Any(x => x.R.Mismatches > 0) ? 1 : 0;
}
catch (BpfException e)
{
    Console.Error.WriteLine($"Fw.Bench.Prefix: {e.Message}");
    return 1;
}

static string Cpu()
{
    var line = File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal));
    return line?.Split(':', 2)[1].Trim() ?? RuntimeInformation.ProcessArchitecture.ToString();
}

namespace Fw.Bench.Prefix
{
    public static class Check
    {
        /// <summary>Every C# mirror has the size and member offsets the object's BTF gives.</summary>
        public static void Layouts(string objectPath)
        {
            var types = new (string C, Type Cs)[]
            {
                ("pb_lpm4_key", typeof(PbLpm4Key)), ("pb_lpm6_key", typeof(PbLpm6Key)),
                ("pb_hash4_key", typeof(PbHash4Key)), ("pb_hash6_key", typeof(PbHash6Key)),
                ("fw_pop_node", typeof(FwPopNode)), ("pb_addr6", typeof(PbAddr6)), ("pb_out", typeof(PbOut)),
                ("fw_pop_tail4", typeof(FwPopTail4)), ("fw_pop_tail6", typeof(FwPopTail6)),
            };
            // Pages are written as raw bytes: their sizes must be what the writer pads to.
            var pages = new (string C, int Size)[]
            {
                ("fw_pop_node_page", FwPop.NodePage * Marshal.SizeOf<FwPopNode>()), ("fw_pop_leaf_page", FwPop.LeafPage * 4),
                ("fw_pop_dir", 4 << FwPop.DirectBits),
                ("fw_pop_tail4_page", FwPop.TailPage * Marshal.SizeOf<FwPopTail4>()), ("fw_pop_tail6_page", FwPop.TailPage * Marshal.SizeOf<FwPopTail6>()),
            };
            foreach (var (c, size) in pages)
            {
                int got = BtfLayout.Read(objectPath, [c])[c].Size;
                if (got != size)
                    throw new InvalidOperationException($"struct {c}: {got} bytes, the writer pads pages to {size}");
            }
            var btf = BtfLayout.Read(objectPath, types.Select(t => t.C));
            foreach (var (c, cs) in types)
            {
                var fields = cs.GetFields(System.Reflection.BindingFlags.Public | System.Reflection.BindingFlags.NonPublic | System.Reflection.BindingFlags.Instance);
                var s = btf[c];
                if (s.Size != Marshal.SizeOf(cs) || s.Members.Count != fields.Length)
                    throw new InvalidOperationException($"{cs.Name}: {Marshal.SizeOf(cs)} bytes, {fields.Length} fields; struct {c}: {s.Size} bytes, {s.Members.Count} members");
                for (int i = 0; i < fields.Length; i++)
                {
                    int off = (int)Marshal.OffsetOf(cs, fields[i].Name);
                    if (off != s.Members[i].Offset)
                        throw new InvalidOperationException($"{cs.Name}.{fields[i].Name} at {off}, {c}.{s.Members[i].Name} at {s.Members[i].Offset}");
                }
            }
        }

        /// <summary>JIT the builders on a small set so the first size's build times are not compile times.</summary>
        public static void Warmup(Options o)
        {
            foreach (var f in new[] { Family.V4, Family.V6 })
            {
                var set = PrefixSet.Generate(f, 2_000, o.Classes, 1024, o.Seed + 1);
                IFamilyImages img = f.Width == 32
                    ? new FamilyImages<Keys4, PbLpm4Key, PbHash4Key>(set, o)
                    : new FamilyImages<Keys6, PbLpm6Key, PbHash6Key>(set, o);
                img.Build();
            }
        }
    }

    public static class Report
    {
        private static readonly Dictionary<string, string> s_names = new()
        {
            ["base"] = "baseline (pick address only)",
            ["lpm"] = "LPM_TRIE",
            ["hash"] = "hash per length, linear",
            ["bs"] = "hash, binary search on lengths",
            ["pop"] = "Poptrie in ARRAY maps",
        };

        public static double Median(IReadOnlyList<double> xs)
        {
            var s = xs.Order().ToArray();
            return s.Length == 0 ? double.NaN : s.Length % 2 == 1 ? s[s.Length / 2] : (s[s.Length / 2 - 1] + s[s.Length / 2]) / 2;
        }

        public static void Table(TextWriter w, List<(int Size, StructureResult R)> all, Options o, string machine)
        {
            var ci = CultureInfo.InvariantCulture;
            w.WriteLine($"Machine: {machine}. XDP BPF_PROG_TEST_RUN, 64-byte frame, repeat {o.Repeat:N0}, median of {o.Runs} runs in alternating order.");
            w.WriteLine($"Prefix sets: seed {o.Seed}, {o.Classes} classes; {o.TestAddrs:N0} test addresses per family, half inside a prefix, half random.{(o.Tails ? "" : " Poptrie WITHOUT tails.")}");
            w.WriteLine($"build: median of {o.BuildReps} runs of the C# builder; write: one batch write into empty maps; create: map creation (object load with only that structure sized, minus an empty load).");
            w.WriteLine();
            w.WriteLine("| family | prefixes | structure | ns/lookup | − baseline | × LPM_TRIE | build ms | write ms | create ms | memlock MiB | entries | checked |");
            w.WriteLine("|---|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---|");
            foreach (var group in all.GroupBy(x => (x.R.Family, x.Size)).OrderBy(g => g.Key.Family).ThenBy(g => g.Key.Size))
            {
                double baseNs = Median(group.First(x => x.R.Variant == "base").R.Samples);
                double lpmNs = Median(group.First(x => x.R.Variant == "lpm").R.Samples) - baseNs;
                foreach (var (size, r) in group)
                {
                    double med = Median(r.Samples);
                    string net = r.Variant == "base" ? "" : (med - baseNs).ToString("F0", ci);
                    string ratio = r.Variant == "base" || lpmNs <= 0 ? "" : ((med - baseNs) / lpmNs).ToString("F2", ci);
                    string create = double.IsNaN(r.CreateMs) ? "" : r.CreateMs.ToString("F0", ci);
                    string check = r.Variant == "base" ? "" : r.Mismatches == 0 ? $"{r.Verified:N0} ok" : $"{r.Mismatches} WRONG";
                    w.WriteLine($"| {r.Family} | {size:N0} | {s_names[r.Variant]} | {med.ToString("F0", ci)} | {net} | {ratio} | "
                        + $"{(r.Variant == "base" ? "" : r.BuildMs.ToString("F0", ci))} | {(r.Variant == "base" ? "" : r.WriteMs.ToString("F0", ci))} | {create} | "
                        + $"{(r.Variant == "base" ? "" : (r.MemlockBytes / 1048576.0).ToString("F1", ci))} | {(r.Variant == "base" ? "" : $"{r.Entries:N0} {r.Detail}")} | {check} |");
                }
            }
        }
    }
}
