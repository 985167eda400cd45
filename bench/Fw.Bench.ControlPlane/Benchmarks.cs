using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Diagnosers;
using BenchmarkDotNet.Exporters;
using Perfolizer.Horology;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Toolchains.InProcess.Emit;
using Fw.Compiler;
using Fw.Kernel;
using Fw.Rules;
using Fw.Bpf;
using Fw.Control;

namespace Fw.Bench.ControlPlane;

/// <summary>
/// In-process (the kernel parts need root and a namespace of their own, which a child process would have to set
/// up again), few iterations: the slowest operations take most of a second, and the whole run (about 4 minutes)
/// must stay well under 15 on a 2-CPU machine. Allocated bytes per operation come with every figure. Program.cs runs the
/// benchmark classes with it.
/// </summary>
public sealed class ControlPlaneConfig : ManualConfig
{
    public ControlPlaneConfig()
    {
        AddJob(Job.Default
            .WithToolchain(InProcessEmitToolchain.Instance)
            .WithWarmupCount(3)
            .WithIterationCount(9)
            .WithIterationTime(TimeInterval.FromMilliseconds(250))
            .WithId("InProcess"));
        AddLogger(BenchmarkDotNet.Loggers.ConsoleLogger.Default);
        AddColumnProvider(DefaultColumnProviders.Instance);
        AddDiagnoser(MemoryDiagnoser.Default);
        AddColumn(StatisticColumn.Median, StatisticColumn.Min, StatisticColumn.Max);
        AddExporter(MarkdownExporter.GitHub);
        WithOrderer(new BenchmarkDotNet.Order.DefaultOrderer(BenchmarkDotNet.Order.SummaryOrderPolicy.Declared));
        WithOptions(ConfigOptions.DisableOptimizationsValidator);
    }
}

/// <summary>The synthetic rulesets of one run, written once into a temporary folder (removed at exit).</summary>
internal static class BenchData
{
    private static readonly Lazy<string> s_dir = new(() =>
    {
        string dir = Directory.CreateTempSubdirectory("fw-cp-bench-").FullName;
        AppDomain.CurrentDomain.ProcessExit += (_, _) => Directory.Delete(dir, recursive: true);
        return dir;
    });

    public static string Write(int rules, int prefixes, int variant = 0) => Synthetic.Write(s_dir.Value, rules, prefixes, defaultDrop: false, variant: variant);

    public static CheckResult Check(string file)
    {
        var check = RulesCheck.Check(file);
        return check.Ok ? check : throw new InvalidOperationException(string.Join("\n", check.Diagnostics));
    }
}

/// <summary>rules.yaml and its set file to a <see cref="Ruleset"/>: YAML, prefixes, validation, the analyzer's warnings.</summary>
public class ParseBenchmarks
{
    private string _file = "";

    [Params(10, 100, 1000, 4096)]
    public int Rules { get; set; }

    [Params(0, 100_000, 1_000_000)]
    public int Prefixes { get; set; }

    [GlobalSetup]
    public void Setup() => _file = BenchData.Write(Rules, Prefixes);

    [Benchmark]
    public LoadResult Parse() => RulesLoader.Load(_file);
}

/// <summary>
/// A parsed ruleset to its map image (RulesetCompiler), and the whole of `fwctl check` in-process: parse,
/// redirect targets, compile (RulesCheck from the file).
/// </summary>
public class CompileBenchmarks
{
    private string _file = "";
    private Ruleset _ruleset = null!;

    [Params(10, 100, 1000, 4096)]
    public int Rules { get; set; }

    [Params(0, 100_000, 1_000_000)]
    public int Prefixes { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        _file = BenchData.Write(Rules, Prefixes);
        _ruleset = BenchData.Check(_file).Ruleset!;
    }

    [Benchmark]
    public MapImage Compile() => RulesetCompiler.Compile(_ruleset);

    [Benchmark]
    public CheckResult CheckFile() => RulesCheck.Check(_file);
}

/// <summary>One size of ruleset for the reload figures.</summary>
public sealed record Scale(int Rules, int Prefixes)
{
    public override string ToString() => $"{Rules} rules, {Prefixes switch { 0 => "0", < 1_000_000 => $"{Prefixes / 1000}k", _ => $"{Prefixes / 1_000_000.0:0.#}M" }} pfx";
}

/// <summary>
/// Firewall.Reload on a veth of its own (in its own namespace, native XDP), alternating two rulesets that differ
/// in every port class, so each reload really replaces the generation: from a compiled image (the kernel part:
/// load the classifier, fill its maps, pin, switch), and from the file (what `fwctl reload` does in-process:
/// check, then reload).
/// </summary>
public class ReloadBenchmarks
{
    private BenchNet _net = null!;
    private readonly string[] _files = new string[2];
    private readonly CheckResult[] _checks = new CheckResult[2];
    private int _next;

    public static IEnumerable<Scale> Scales => [new(10, 0), new(4096, 1_000_000)];

    [ParamsSource(nameof(Scales))]
    public Scale Size { get; set; } = null!;

    [GlobalSetup]
    public void Setup()
    {
        Firewall.RequireRoot();
        for (int v = 0; v < 2; v++)
        {
            _files[v] = BenchData.Write(Size.Rules, Size.Prefixes, v);
            _checks[v] = BenchData.Check(_files[v]);
        }
        _net = new BenchNet(1);
        try
        {
            _net.Run(() => Deployment.Attach(_net.SutIf, _checks[0], XdpMode.Native));
        }
        catch
        {
            _net.Dispose();
            throw;
        }
        _next = 1;
    }

    [GlobalCleanup]
    public void Cleanup() => _net.Dispose();

    [Benchmark]
    public ChangeResult ReloadImage()
    {
        int v = _next;
        _next ^= 1;
        return _net.Run(() => Deployment.Reload(_net.SutIf, _checks[v]));
    }

    [Benchmark]
    public ChangeResult CheckAndReload()
    {
        int v = _next;
        _next ^= 1;
        return _net.Run(() => Deployment.Reload(_net.SutIf, BenchData.Check(_files[v])));
    }
}
