using System.Text;
using Fw.Bench;

// Per-packet cost of the classifier alone (BPF_PROG_TEST_RUN, repeat >= 1,000,000) over the rule-count x
// set-size grid and the three packet mixes, beside a bare XDP_DROP program measured in the same run.
// bench/run runs the same grid inside Fw.Bench.Throughput; this is the quick look without live traffic.
// Usage: sudo dotnet run -c Release --project bench/Fw.Bench.Cost [-- --repeat N --runs N --rules 10,1000 --prefixes 0,100000]

int repeat = ArgInt("--repeat", 1_000_000);
int runs = ArgInt("--runs", 5);
int[] ruleCounts = ArgList("--rules", [10, 100, 1000, 4096]);
int[] prefixCounts = ArgList("--prefixes", [0, 10_000, 100_000, 1_000_000]);

string dir = Directory.CreateTempSubdirectory("fw-cost-").FullName;
try
{
    var cases = new List<RulesetCase>();
    foreach (int p in prefixCounts)
    {
        foreach (int n in ruleCounts)
        {
            var c = RulesetCase.Build(dir, n, p);
            cases.Add(c);
            Console.Error.WriteLine($"compiled {c.Label}: {c.CompileMs:N0} ms, {c.Check.Image!.ClassCount} classes, {c.Check.Image.PrefixEntries:N0} trie entries");
        }
    }
    var (bare, results) = CostGrid.Run(cases, repeat, runs, Console.Error);
    double b = Stats.Median(bare.ToList());
    var md = new StringBuilder();
    md.AppendLine($"kernel {File.ReadAllText("/proc/sys/kernel/osrelease").Trim()}, {Environment.ProcessorCount} CPUs, BPF_PROG_TEST_RUN repeat {repeat:N0}, median of {runs}, default: drop");
    md.AppendLine($"bare XDP_DROP: {b:N1} ns/packet (spread {Stats.Min(bare.ToList()):N0}-{Stats.Max(bare.ToList()):N0})");
    md.AppendLine();
    md.AppendLine("| rules | prefixes | mix | ns | × bare | + ns over bare | spread |");
    md.AppendLine("|---:|---:|---|---:|---:|---:|---|");
    foreach (var r in results)
        md.AppendLine($"| {r.Case.Rules:N0} | {r.Case.Prefixes:N0} | {r.Mix.Name} | {r.Median:N1} | {r.Median / b:N2} | {r.Median - b:N1} | {r.Ns.Min():N0}-{r.Ns.Max():N0} |");
    Console.WriteLine(md);
}
finally
{
    Directory.Delete(dir, recursive: true);
}

int ArgInt(string name, int fallback)
{
    int i = Array.IndexOf(args, name);
    return i >= 0 && i + 1 < args.Length ? int.Parse(args[i + 1]) : fallback;
}

int[] ArgList(string name, int[] fallback)
{
    int i = Array.IndexOf(args, name);
    return i >= 0 && i + 1 < args.Length ? args[i + 1].Split(',').Select(int.Parse).ToArray() : fallback;
}
