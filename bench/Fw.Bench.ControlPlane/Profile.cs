using System.Diagnostics;
using Fw.Compiler;
using Fw.Kernel;
using Fw.Rules;
using Fw.Bpf;
using Fw.Control;

namespace Fw.Bench.ControlPlane;

/// <summary>
/// A Stopwatch breakdown of one reload path, step by step, with what each step allocates and the process's
/// peak resident memory: where the time and the memory of parse, compile and load go.
/// Usage: profile [RULES PREFIXES] [--inline] (default 4096 1000000; --inline: the prefixes as a YAML list in rules.yaml).
/// </summary>
internal static class Profile
{
    public static int Run(string[] args)
    {
        bool inline = args.Contains("--inline");
        args = args.Where(a => a != "--inline").ToArray();
        int rules = args.Length > 0 ? int.Parse(args[0]) : 4096;
        int prefixes = args.Length > 1 ? int.Parse(args[1]) : 1_000_000;
        string dir = Directory.CreateTempSubdirectory("fw-cp-profile-").FullName;
        try
        {
            string a = Synthetic.Write(dir, rules, prefixes, defaultDrop: false, variant: 0, inline: inline);
            string b = Synthetic.Write(dir, rules, prefixes, defaultDrop: false, variant: 1, inline: inline);
            Console.WriteLine($"{rules:N0} rules, {prefixes:N0} prefixes{(inline ? " inline" : "")}; GC: {(System.Runtime.GCSettings.IsServerGC ? "server" : "workstation")}, " +
                $"concurrent {AppContext.TryGetSwitch("System.GC.Concurrent", out bool c) && c}");
            using var net = new BenchNet(1);
            for (int round = 0; round < 3; round++)
            {
                string file = round % 2 == 0 ? a : b;
                var load = Step("parse (RulesLoader.Load)", () => RulesLoader.Load(file));
                var image = Step("compile (RulesetCompiler.Compile)", () => RulesetCompiler.Compile(load.Ruleset!));
                var check = Step("check (RulesCheck.Check, parse + compile)", () => RulesCheck.Check(file));
                Step("digest", () => check.Image!.Digest());
                if (round == 0)
                    Step("attach (Firewall.Attach)", () => net.Run(() => Deployment.Attach(net.SutIf, check, XdpMode.Native)));
                else
                    Step("reload (Firewall.Reload)", () => net.Run(() => Deployment.Reload(net.SutIf, check)));
                using (var classifier = Step("Classifier.Load (maps filled, not attached)", () => Classifier.Load(check.Image!)))
                {
                }
                Console.WriteLine($"  image: {check.Image!.ClassCount:N0} classes x {8 * (1 + check.Image.Words)} B, {check.Image.PrefixEntries:N0} trie entries; " +
                    $"VmHWM {Status("VmHWM")}, VmRSS {Status("VmRSS")}, GC heap {GC.GetTotalMemory(false) / 1e6:N0} MB");
                Console.WriteLine();
            }
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
        return 0;
    }

    private static T Step<T>(string what, Func<T> body)
    {
        long alloc = GC.GetTotalAllocatedBytes(precise: true);
        int gen0 = GC.CollectionCount(0), gen2 = GC.CollectionCount(2);
        var cpu = Process.GetCurrentProcess().TotalProcessorTime;
        var pause = GC.GetTotalPauseDuration();
        var sw = Stopwatch.StartNew();
        var result = body();
        double ms = sw.Elapsed.TotalMilliseconds;
        double cpuMs = (Process.GetCurrentProcess().TotalProcessorTime - cpu).TotalMilliseconds;
        double pauseMs = (GC.GetTotalPauseDuration() - pause).TotalMilliseconds;
        Console.WriteLine($"  {what,-46} {ms,8:N1} ms (CPU {cpuMs,7:N0} ms)  allocated {(GC.GetTotalAllocatedBytes(precise: true) - alloc) / 1e6,8:N1} MB  " +
            $"gen0 {GC.CollectionCount(0) - gen0,3} gen2 {GC.CollectionCount(2) - gen2,2}, paused {pauseMs,5:N0} ms");
        return result;
    }

    public static string Status(string key) =>
        File.ReadLines("/proc/self/status").First(l => l.StartsWith(key + ":", StringComparison.Ordinal))[(key.Length + 1)..].Trim();
}
