using System.Text;
using Fw.Bench;
using Fw.Bpf;
using Fw.Kernel;
using Fw.Packets;

// What connection tracking adds to fw_classify per packet (BPF_PROG_TEST_RUN, the same frame repeated, warm):
// the synthetic ruleset (1,000 rules, 100,000 prefixes by default) without and with the stateful rules on top
// (`state: established`, then a track rule; Synthetic), each frame beside a bare XDP_DROP measured in the same
// run. Figures are medians over runs of (frame - bare) ns, so drift and a noisy neighbour hit both alike.
// Several classifier objects may be compared in one run (--object NAME=PATH, repeatable; default: the built
// bpf/fw.bpf.o), e.g. a build of an older commit's bpf/ beside this one.
// Usage: sudo dotnet run -c Release --project bench/Fw.Bench.Conntrack [-- --repeat N --runs N --rules N
//        --prefixes N --object NAME=PATH ... --hold
//        --only TEXT --frame TEXT]
// --hold: after loading, print the programs' ids and wait for Enter (bpftool prog dump xlated/jited id ID).
// --only, --frame: measure only the classifiers and frames whose names contain TEXT (for perf record -a).

int repeat = ArgInt("--repeat", 1_000_000);
int runs = ArgInt("--runs", 11);
int rules = ArgInt("--rules", 1000);
int prefixes = ArgInt("--prefixes", 100_000);
bool hold = args.Contains("--hold");
string? only = ArgStr("--only");     // measure only the classifiers whose name contains this (e.g. "stateful")
string? frameOnly = ArgStr("--frame");  // and only the frames whose name contains this (e.g. "established v4")
var objects = ArgAll("--object").Select(o => o.Split('=', 2)).Select(p => (Name: p[0], Path: p[1])).ToList();
if (objects.Count == 0)
    objects.Add(("fw", Classifier.DefaultObjectPath()));

var est = Synthetic.Established();
var none = Synthetic.NoMatch();
// An ICMP error (port unreachable) from the flow's peer quoting a packet of the IPv4 flow: related, no rule
// (the state rule asks for established only), so the default; it is the one kind of frame that takes the
// quoted-packet path.
byte[] quoted = est.Parts[0].Frame[14..(14 + 20 + 8)];
byte[] related = Frame.Icmp("198.18.255.1", Synthetic.FlowSrc4, 3, 3).WithPayload([0, 0, 0, 0, .. quoted]).Build();
var frames = new (string Name, byte[] Frame, bool Established)[]
{
    ("established v4", est.Parts[0].Frame, true),
    ("established v6", est.Parts[1].Frame, true),
    ("no match v4", none.Parts[0].Frame, false),
    ("no match v6", none.Parts[1].Frame, false),
    ("icmp error (related)", related, false),
}.Where(f => frameOnly is null || f.Name.Contains(frameOnly)).ToArray();

string dir = Directory.CreateTempSubdirectory("fw-ct-bench-").FullName;
var loaded = new List<(string Name, Classifier Cls)>();
try
{
    var plain = RulesetCase.Build(dir, rules, prefixes);
    var stateful = RulesetCase.Build(dir, rules, prefixes, stateful: true);
    using var bare = BpfObject.Open(CostGrid.BareObjectPath);
    bare.Load();
    int bareFd = bare.ProgramFd("xdp_drop");
    foreach (var (name, path) in objects)
    {
        foreach (var (kind, c) in new[] { ("stateless", plain), ("stateful", stateful) })
        {
            if (only is null || $"{name} {kind}".Contains(only))
                loaded.Add(($"{name} {kind}", Classifier.Load(c.Check.Image!, new ClassifierOptions { ObjectPath = path })));
        }
    }
    // The flows into each stateful table: a track rule passes the first packet of each flow; every later one is established.
    foreach (var (name, cls) in loaded)
    {
        foreach (var f in frames)
        {
            var first = cls.TestRun(f.Frame);
            var again = cls.TestRun(f.Frame);
            var want = name.EndsWith("stateful") && f.Established ? XdpAction.Pass : XdpAction.Drop;
            if (again.Verdict != want || (name.EndsWith("stateful") && f.Established && first.Verdict != XdpAction.Pass))
                throw new InvalidOperationException($"{name}, {f.Name}: verdict {again.Verdict}, expected {want}");
        }
    }
    if (hold)
    {
        foreach (var (name, cls) in loaded)
            Console.Error.WriteLine($"{name}: prog id {File.ReadLines($"/proc/self/fdinfo/{cls.ProgramFd}").First(l => l.StartsWith("prog_id:"))[8..].Trim()}");
        Console.Error.WriteLine("loaded; press Enter to measure");
        Console.ReadLine();
    }

    var bareNs = new List<double>();
    var ns = loaded.Select(_ => frames.Select(_ => new List<double>()).ToArray()).ToArray();
    var diff = loaded.Select(_ => frames.Select(_ => new List<double>()).ToArray()).ToArray();
    for (int r = 0; r < runs; r++)
    {
        // Bare before and after, their mean the run's baseline; the classifiers in a different order each run.
        double b0 = BpfObject.TestRun(bareFd, frames[0].Frame, repeat).DurationNs;
        var order = Enumerable.Range(0, loaded.Count).ToArray();
        new Random(r).Shuffle(order);
        var run = new double[loaded.Count, frames.Length];
        foreach (int i in order)
        {
            for (int f = 0; f < frames.Length; f++)
                run[i, f] = loaded[i].Cls.TestRun(frames[f].Frame, repeat).DurationNs;
        }
        double b1 = BpfObject.TestRun(bareFd, frames[0].Frame, repeat).DurationNs;
        double b = (b0 + b1) / 2;
        bareNs.Add(b);
        for (int i = 0; i < loaded.Count; i++)
        {
            for (int f = 0; f < frames.Length; f++)
            {
                ns[i][f].Add(run[i, f]);
                diff[i][f].Add(run[i, f] - b);
            }
        }
        Console.Error.WriteLine($"run {r + 1}/{runs} done");
    }

    var md = new StringBuilder();
    md.AppendLine($"kernel {File.ReadAllText("/proc/sys/kernel/osrelease").Trim()}, {Environment.ProcessorCount} CPUs, BPF_PROG_TEST_RUN repeat {repeat:N0}, {runs} runs, " +
                  $"{rules:N0} rules + {prefixes:N0} prefixes, default: drop");
    md.AppendLine($"bare XDP_DROP: {Stats.Median(bareNs):N1} ns/packet (spread {Stats.Min(bareNs):N1}-{Stats.Max(bareNs):N1})");
    md.AppendLine();
    md.AppendLine("| classifier | frame | ns | + ns over bare | spread of + ns |");
    md.AppendLine("|---|---|---:|---:|---|");
    for (int i = 0; i < loaded.Count; i++)
    {
        for (int f = 0; f < frames.Length; f++)
            md.AppendLine($"| {loaded[i].Name} | {frames[f].Name} | {Stats.Median(ns[i][f]):N1} | {Stats.Median(diff[i][f]):N1} | {Stats.Min(diff[i][f]):N1}-{Stats.Max(diff[i][f]):N1} |");
    }
    Console.WriteLine(md);
}
finally
{
    foreach (var (_, cls) in loaded)
        cls.Dispose();
    Directory.Delete(dir, recursive: true);
}

string? ArgStr(string name)
{
    int i = Array.IndexOf(args, name);
    return i >= 0 && i + 1 < args.Length ? args[i + 1] : null;
}

int ArgInt(string name, int fallback)
{
    int i = Array.IndexOf(args, name);
    return i >= 0 && i + 1 < args.Length ? int.Parse(args[i + 1]) : fallback;
}

IEnumerable<string> ArgAll(string name)
{
    for (int i = 0; i + 1 < args.Length; i++)
    {
        if (args[i] == name)
            yield return args[i + 1];
    }
}
