using Fw.Kernel;
using Fw.Bpf;

namespace Fw.Bench;

/// <summary>Per-packet cost of one case and mix: BPF_PROG_TEST_RUN nanoseconds, one value per run.</summary>
public sealed record CostResult(RulesetCase Case, Mix Mix, IReadOnlyList<double> Ns, int TrieEntries, int Classes)
{
    public double Median => Stats.Median(Ns.ToList());
}

/// <summary>
/// The classifier's cost per packet with BPF_PROG_TEST_RUN (repeat >= 1,000,000; the same frame every time,
/// so caches are warm), beside a bare XDP_DROP program measured in the same run. Each case's classifier
/// (fw_classify alone, without the dispatcher's tail call) is loaded once; runs alternate across cases and
/// mixes so drift hits all alike; verdicts are checked on every run.
/// </summary>
public static class CostGrid
{
    public static string BareObjectPath => System.IO.Path.Combine(AppContext.BaseDirectory, "bpf", "xdp_drop.bpf.o");

    /// <summary>The floor (bench/bpf/floor.bpf.c): parse, one array lookup by destination port, one per-CPU counter.</summary>
    public static string FloorObjectPath => System.IO.Path.Combine(AppContext.BaseDirectory, "bpf", "floor.bpf.o");

    public static (IReadOnlyList<double> Bare, IReadOnlyList<CostResult> Results) Run(IReadOnlyList<RulesetCase> cases, int repeat, int runs, TextWriter log)
    {
        using var bare = BpfObject.Open(BareObjectPath);
        bare.Load();
        int bareFd = bare.ProgramFd("xdp_drop");
        var loaded = new List<Classifier>();
        try
        {
            foreach (var c in cases)
                loaded.Add(Classifier.Load(c.Check.Image!));
            var bareNs = new List<double>();
            var ns = cases.Select(c => c.Mixes.Select(_ => new List<double>()).ToArray()).ToArray();
            var probe = cases[0].Mixes[0].CostFrame;
            for (int r = 0; r < runs; r++)
            {
                bareNs.Add(BpfObject.TestRun(bareFd, probe, repeat).DurationNs);
                for (int i = 0; i < cases.Count; i++)
                {
                    for (int m = 0; m < cases[i].Mixes.Count; m++)
                    {
                        var mix = cases[i].Mixes[m];
                        var res = loaded[i].TestRun(mix.CostFrame, repeat);
                        if (res.Verdict != cases[i].Verdict(mix))
                            throw new InvalidOperationException($"{cases[i].Label}, {mix.Name}: verdict {res.Verdict}, expected {cases[i].Verdict(mix)}");
                        ns[i][m].Add(res.DurationNs);
                    }
                }
                log.WriteLine($"cost: run {r + 1}/{runs} done");
            }
            var results = new List<CostResult>();
            for (int i = 0; i < cases.Count; i++)
            {
                for (int m = 0; m < cases[i].Mixes.Count; m++)
                    results.Add(new CostResult(cases[i], cases[i].Mixes[m], ns[i][m], cases[i].Check.Image!.PrefixEntries, cases[i].Check.Image!.ClassCount));
            }
            return (bareNs, results);
        }
        finally
        {
            foreach (var c in loaded)
                c.Dispose();
        }
    }
}
