using System.Diagnostics;
using System.Text;
using Fw.Compiler;
using Fw.Kernel;
using Fw.Packets;

// Per-packet cost of the classifier (BPF_PROG_TEST_RUN, repeat >= 1,000,000) at 10 / 1,000 / 4,096 rules
// and 0 / 100,000 / 1,000,000 prefixes, beside a bare XDP_DROP program measured in the same run.
// Usage: sudo dotnet run -c Release --project bench/Fw.Bench.Cost [-- --repeat N --runs N]

int repeat = ArgInt("--repeat", 1_000_000);
int runs = ArgInt("--runs", 5);
int[] ruleCounts = [10, 1000, 4096];
int[] prefixCounts = [0, 100_000, 1_000_000];

using var bare = BpfObject.Open(Path.Combine(AppContext.BaseDirectory, "bpf", "xdp_drop.bpf.o"));
bare.Load();
int bareFd = bare.ProgramFd("xdp_drop");

string dir = Directory.CreateTempSubdirectory("fw-cost-").FullName;
try
{
    var packets = new (string Name, byte[] Frame)[]
    {
        ("no match", Frame.Tcp("192.0.2.1", "192.0.2.2", 40000, 80, TcpFlags.Ack).WithPayload(18).Build()),
        ("last rule", Array.Empty<byte>()),
    };
    var scenarios = new List<(int Rules, int Prefixes, Classifier C, byte[] Last, double CompileMs)>();
    foreach (int p in prefixCounts)
    {
        foreach (int n in ruleCounts)
        {
            var sw = Stopwatch.StartNew();
            string path = Synthetic.Write(dir, n, p);
            var check = RulesCheck.Check(path, Classifier.ResolveInterface);
            if (!check.Ok)
                throw new InvalidOperationException(string.Join("\n", check.Diagnostics));
            double compileMs = sw.Elapsed.TotalMilliseconds;
            var c = Classifier.Load(check.Image!);
            scenarios.Add((n, p, c, Synthetic.LastRuleFrame(n), compileMs));
            Console.Error.WriteLine($"loaded {n} rules, {p:N0} prefixes: parse+compile {compileMs:N0} ms, load {sw.Elapsed.TotalMilliseconds - compileMs:N0} ms, {check.Image!.ClassCount} classes, {check.Image.PrefixEntries:N0} trie entries");
        }
    }

    // Runs alternate across scenarios so drift hits all alike; each figure is the median of `runs`.
    var bareNs = new List<double>();
    var ns = scenarios.Select(_ => (NoMatch: new List<double>(), Last: new List<double>())).ToArray();
    for (int r = 0; r < runs; r++)
    {
        bareNs.Add(BpfObject.TestRun(bareFd, packets[0].Frame, repeat).DurationNs);
        for (int i = 0; i < scenarios.Count; i++)
        {
            var s = scenarios[i];
            ns[i].NoMatch.Add(Check(s.C.TestRun(packets[0].Frame, repeat), XdpAction.Pass).DurationNs);
            ns[i].Last.Add(Check(s.C.TestRun(s.Last, repeat), XdpAction.Drop).DurationNs);
        }
    }

    double b = Median(bareNs);
    var md = new StringBuilder();
    md.AppendLine($"kernel {Environment.OSVersion.Version} ({File.ReadAllText("/proc/sys/kernel/osrelease").Trim()}), {Environment.ProcessorCount} CPUs, BPF_PROG_TEST_RUN repeat {repeat:N0}, median of {runs}");
    md.AppendLine($"bare XDP_DROP: {b:N1} ns/packet (spread {Spread(bareNs)})");
    md.AppendLine();
    md.AppendLine("| rules | prefixes | no match ns | × bare | last rule ns | × bare | spread (no match) | compile ms |");
    md.AppendLine("|---:|---:|---:|---:|---:|---:|---|---:|");
    for (int i = 0; i < scenarios.Count; i++)
    {
        var s = scenarios[i];
        double nm = Median(ns[i].NoMatch), last = Median(ns[i].Last);
        md.AppendLine($"| {s.Rules:N0} | {s.Prefixes:N0} | {nm:N1} | {nm / b:N2} | {last:N1} | {last / b:N2} | {Spread(ns[i].NoMatch)} | {s.CompileMs:N0} |");
    }
    Console.WriteLine(md);
    foreach (var s in scenarios)
        s.C.Dispose();
}
finally
{
    Directory.Delete(dir, recursive: true);
}

static TestRunResult Check(TestRunResult r, XdpAction want) =>
    r.Verdict == want ? r : throw new InvalidOperationException($"verdict {r.Verdict}, expected {want}");

static double Median(List<double> xs)
{
    var s = xs.Order().ToArray();
    return s.Length % 2 == 1 ? s[s.Length / 2] : (s[s.Length / 2 - 1] + s[s.Length / 2]) / 2;
}

static string Spread(List<double> xs) => $"{xs.Min():N0}-{xs.Max():N0}";

int ArgInt(string name, int fallback)
{
    int i = Array.IndexOf(args, name);
    return i >= 0 && i + 1 < args.Length ? int.Parse(args[i + 1]) : fallback;
}

/// <summary>Synthetic rulesets for the scale figures: a big set first, then N varied rules.</summary>
internal static class Synthetic
{
    public static string Write(string dir, int rules, int prefixes)
    {
        var yaml = new StringBuilder("default: pass\n");
        if (prefixes > 0)
        {
            string set = Path.Combine(dir, $"set-{prefixes}.txt");
            if (!File.Exists(set))
                WriteSet(set, prefixes);
            yaml.Append($"sets:\n  big: {{ file: {Path.GetFileName(set)} }}\n");
        }
        yaml.Append("rules:\n");
        int first = 0;
        if (prefixes > 0)
        {
            yaml.Append("  - name: big-set\n    src: \"@big\"\n    action: drop\n");
            first = 1;
        }
        for (int i = first; i < rules; i++)
        {
            // Rule i: TCP or UDP from its own /24 (v4) or /64 (v6) to port 1000 + i.
            string src = i % 4 == 3 ? $"\"2001:db8:{i:x}::/64\"" : $"198.18.{i / 256}.{i % 256 & 0xff}/32";
            yaml.Append($"  - name: r{i}\n    src: {src}\n    proto: {(i % 2 == 0 ? "tcp" : "udp")}\n    dport: {1000 + i}\n    action: drop\n");
        }
        string path = Path.Combine(dir, $"rules-{rules}-{prefixes}.yaml");
        File.WriteAllText(path, yaml.ToString());
        return path;
    }

    /// <summary>A frame that matches only the last rule.</summary>
    public static byte[] LastRuleFrame(int rules)
    {
        int i = rules - 1;
        ushort port = (ushort)(1000 + i);
        if (i % 4 == 3)
            return Frame.Udp($"2001:db8:{i:x}::5", "2001:db8:ffff::1", 40000, port).Build();
        string src = $"198.18.{i / 256}.{i % 256}";
        return (i % 2 == 0 ? Frame.Tcp(src, "192.0.2.2", 40000, port) : Frame.Udp(src, "192.0.2.2", 40000, port)).Build();
    }

    // A blocklist-like mix (set contents only: no traffic goes there): 80% IPv4 /16-/32, most /24 and /32,
    // spread over 1.0.0.0-191.255.255.255; 20% IPv6 /48-/128 inside 2001:db8:8000::/33. The benchmark's
    // packets use 192.0.2.0/24, 198.18.0.0/15 and 2001:db8::/33, which the set never covers.
    private static void WriteSet(string path, int count)
    {
        var rng = new Random(count);
        var seen = new HashSet<(UInt128, int)>();
        using var w = new StreamWriter(path);
        while (seen.Count < count)
        {
            if (rng.Next(5) > 0)
            {
                int[] lens = [16, 20, 22, 24, 24, 24, 24, 28, 32, 32, 32, 32, 32, 32, 32, 32, 32, 32, 32, 32];
                int len = lens[rng.Next(lens.Length)];
                uint a = (uint)rng.NextInt64(0x01000000L, 0xC0000000L) & uint.MaxValue << (32 - len);
                if (seen.Add(((UInt128)a, len)))
                    w.WriteLine($"{a >> 24}.{a >> 16 & 255}.{a >> 8 & 255}.{a & 255}/{len}");
            }
            else
            {
                int[] lens = [48, 56, 64, 64, 128];
                int len = lens[rng.Next(lens.Length)];
                UInt128 random = (UInt128)(ulong)rng.NextInt64() << 64 | (ulong)rng.NextInt64();
                UInt128 a = ((UInt128)0x20010db8UL << 96 | (UInt128)1 << 95 | random >> 33) & UInt128.MaxValue << (128 - len);
                if (seen.Add((a, len)))
                    w.WriteLine($"{new System.Net.IPAddress(ToBytes(a))}/{len}");
            }
        }
    }

    private static byte[] ToBytes(UInt128 a)
    {
        var b = new byte[16];
        System.Buffers.Binary.BinaryPrimitives.WriteUInt128BigEndian(b, a);
        return b;
    }
}
