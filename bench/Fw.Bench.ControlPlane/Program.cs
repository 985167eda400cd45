using Fw.Bench;
using Fw.Bench.ControlPlane;

// Control-plane figures. Usage (as root; bench/controlplane runs them all and writes the results):
//   Fw.Bench.ControlPlane bdn [BenchmarkDotNet args]          parse, compile, reload (in-process)
//   Fw.Bench.ControlPlane process [--runs N] [--as-built] [--big]  fwctl reload/check/stats wall time (prefixes in a set
//                                                             file and inline), fwd resident memory (--big: only 4,096 rules, 1M prefixes)
//   Fw.Bench.ControlPlane reload [--runs N] [--rules N] [--prefixes N] [--inline] [--fwctl PATH]... [--env "NAME=VALUE ..."]...
//                                                             only the whole-process fwctl reload (default 4,096 rules
//                                                             and 1M prefixes), builds or settings interleaved
//   Fw.Bench.ControlPlane livesets [--adds N] [--runs N] [--out FILE]   live sets: one add (kernel map update, in-process,
//                                                             fwctl set add) and syncs of 100,000 entries (bench/livesets)
//   Fw.Bench.ControlPlane profile [RULES PREFIXES] [--inline] a Stopwatch breakdown of one reload path (--inline: the
//                                                             prefixes as a YAML list in rules.yaml, not a set file)
//   Fw.Bench.ControlPlane write DIR RULES PREFIXES [VARIANT [IFACE]] [--inline]  writes a synthetic ruleset (prints its path)
// Failures are caught here so that every Dispose and finally runs (an unhandled exception skips them): the
// namespace, veth and pins of the run go, whatever happened.
try
{
    return args.FirstOrDefault() switch
    {
        "bdn" => Bdn(args[1..]),
        "profile" => Profile.Run(args[1..]),
        "process" => WholeProcess.Run(args[1..]),
        "reload" => WholeProcess.Reload(args[1..]),
        "livesets" => LiveSetBench.Run(args[1..]),
        "write" when args.Length >= 4 => Write(args.Where(a => a != "--inline").ToArray(), args.Contains("--inline")),
        _ => Usage(),
    };
}
catch (Exception e)
{
    Console.Error.WriteLine($"Fw.Bench.ControlPlane: {e}");
    return 1;
}

static int Bdn(string[] args)
{
    var summaries = BenchmarkDotNet.Running.BenchmarkSwitcher
        .FromTypes([typeof(ParseBenchmarks), typeof(CompileBenchmarks), typeof(ReloadBenchmarks)])
        .Run(args.Contains("--filter") ? args : [.. args, "--filter", "*"], new ControlPlaneConfig());
    return summaries.Any(s => s.HasCriticalValidationErrors || s.Reports.Any(r => !r.Success)) ? 1 : 0;
}

static int Write(string[] args, bool inline)
{
    string dir = args[1];
    Directory.CreateDirectory(dir);
    Console.WriteLine(Synthetic.Write(dir, int.Parse(args[2]), int.Parse(args[3]), defaultDrop: false,
        args.Length > 4 ? int.Parse(args[4]) : 0, args.ElementAtOrDefault(5) is { Length: > 0 } iface ? iface : null, inline: inline));
    return 0;
}

static int Usage()
{
    Console.Error.WriteLine("usage: Fw.Bench.ControlPlane (bdn [BenchmarkDotNet args] | process [--runs N] [--as-built] [--big] | reload [--runs N] [--rules N] [--prefixes N] [--inline] [--fwctl PATH]... [--env \"NAME=VALUE ...\"]... | livesets [--adds N] [--runs N] [--out FILE] | profile [RULES PREFIXES] [--inline] | write DIR RULES PREFIXES [VARIANT [IFACE]] [--inline])");
    return 2;
}
