namespace Fw.Bench.Throughput;

/// <summary>Command-line options; every count and duration is configurable, the defaults are bench/run's.</summary>
public sealed record Options
{
    public const string Usage = """
        usage: Fw.Bench.Throughput [options]
          --out DIR              where throughput.md, .csv and .png go (default bench/results)
          --runs N               runs per scenario; figures are medians (default 5)
          --duration S           seconds of traffic per scenario and run, after a warm-up (default 1)
          --threads N            sending threads, one per CPU from CPU 0 (default: every CPU)
          --quick                a quick look (about 5 minutes): bare XDP_DROP, the floor, fw, fw + state, fw + log,
                                 fw + live set + limit and xdp-filter at the peer comparison's rules and set, no-match
                                 mix (fw + state: established and no-match mixes; fw + log: logged and log-elsewhere);
                                 no cost grid, no nftables
          --rules N,N,...        rule counts (default 10,100,1000,4096)
          --prefixes N,N,...     set sizes of the live grid (default 0,1000,10000,100000,1000000)
          --cost-prefixes N,...  set sizes of the TEST_RUN grid (default 0,1000,10000,100000,1000000)
          --mixes M,M,...        packet mixes of the fw grid: first, last, nomatch (default all)
          --repeat N             BPF_PROG_TEST_RUN repeat (default 1000000)
          --peer-rules N         rules of the peer comparison (default 1000)
          --peer-prefixes N      set size of the peer comparison (default 100000)
          --fw-object LABEL=PATH another build's fw.bpf.o, measured as "fw (LABEL)" beside fw in the peer comparison
                                 (repeatable): to compare data-plane changes in one run, paired with the same bare runs
          --no-cost | --no-live | --no-peers | --no-state | --no-log | --no-liveset | --no-floor   leave a part out (--no-state:
                                 fw + state, the connection-tracking cost at the peer comparison's rules and set; --no-log:
                                 fw + log, the packet log's cost there: a logged rule the traffic matches, and one it does
                                 not; --no-liveset: fw + live set + limit, a live set of 10,000 entries the traffic misses
                                 and a limit it stays within, on top of the same rules and set, and each
                                 of the two alone; --no-floor: the floor reference program in the peer comparison,
                                 bench/bpf/floor.bpf.c: parse, one array lookup by port, one per-CPU counter; and its steps alone)
          --write-rules DIR      write the grid's rulesets (and nft, xdp-filter translations of the peer's) to DIR and stop
        """;

    public string Out { get; init; } = "bench/results";
    public int Runs { get; init; } = 5;
    public double Duration { get; init; } = 1;
    public int Threads { get; init; } = Environment.ProcessorCount;
    public bool Quick { get; init; }
    public int[] Rules { get; init; } = [10, 100, 1000, 4096];
    public int[] Prefixes { get; init; } = [0, 1_000, 10_000, 100_000, 1_000_000];
    public int[] CostPrefixes { get; init; } = [0, 1_000, 10_000, 100_000, 1_000_000];
    public int Repeat { get; init; } = 1_000_000;
    public string[] Mixes { get; init; } = ["first", "last", "no match"];
    public int PeerRules { get; init; } = 1000;
    public int PeerPrefixes { get; init; } = 100_000;
    public bool Cost { get; init; } = true;
    public bool Live { get; init; } = true;
    public bool Peers { get; init; } = true;

    /// <summary>fw + state: the peer comparison's ruleset with a `state: established` rule and a track rule on top.</summary>
    public bool State { get; init; } = true;
    /// <summary>fw + log: the peer comparison's ruleset with a logged rule on top, matching the traffic or not (live only).</summary>
    public bool Log { get; init; } = true;
    /// <summary>fw + live set + limit: the peer comparison's ruleset with a live set rule and a limit rule on top (live only).</summary>
    public bool LiveSet { get; init; } = true;
    /// <summary>The floor: bench/bpf/floor.bpf.c beside bare XDP_DROP in the peer comparison (live only), a reference for fw's added cost.</summary>
    public bool Floor { get; init; } = true;
    public string? WriteRules { get; init; }
    public FwBuild[] FwObjects { get; init; } = [];

    /// <summary>The options, or null after printing the usage (with the error, if any).</summary>
    public static Options? Parse(string[] args)
    {
        var o = new Options();
        try
        {
            for (int i = 0; i < args.Length; i++)
            {
                string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value");
                int[] List() => Next().Split(',').Select(s => int.Parse(s.Replace("_", ""))).ToArray();
                o = args[i] switch
                {
                    "--out" => o with { Out = Next() },
                    "--runs" => o with { Runs = int.Parse(Next()) },
                    "--duration" => o with { Duration = double.Parse(Next(), System.Globalization.CultureInfo.InvariantCulture) },
                    "--threads" => o with { Threads = int.Parse(Next()) },
                    "--quick" => o with { Quick = true },
                    "--rules" => o with { Rules = List() },
                    "--prefixes" => o with { Prefixes = List() },
                    "--cost-prefixes" => o with { CostPrefixes = List() },
                    "--mixes" => o with { Mixes = Next().Split(',').Select(m => m == "nomatch" ? "no match" : m).ToArray() },
                    "--repeat" => o with { Repeat = int.Parse(Next()) },
                    "--peer-rules" => o with { PeerRules = int.Parse(Next()) },
                    "--peer-prefixes" => o with { PeerPrefixes = int.Parse(Next()) },
                    "--no-cost" => o with { Cost = false },
                    "--no-live" => o with { Live = false },
                    "--no-peers" => o with { Peers = false },
                    "--no-state" => o with { State = false },
                    "--no-log" => o with { Log = false },
                    "--no-liveset" => o with { LiveSet = false },
                    "--no-floor" => o with { Floor = false },
                    "--write-rules" => o with { WriteRules = Next() },
                    "--fw-object" => o with { FwObjects = [.. o.FwObjects, ParseBuild(Next())] },
                    "-h" or "--help" => throw new HelpRequested(),
                    _ => throw new ArgumentException($"unknown option {args[i]}"),
                };
            }
            if (o.Runs < 1 || o.Duration <= 0 || o.Threads < 1 || o.Threads > Environment.ProcessorCount || o.Repeat < 1)
                throw new ArgumentException($"runs, duration, repeat must be positive; threads 1-{Environment.ProcessorCount}");
            // The quick look: the headline scenario only (fw at the peers' ruleset, no-match mix, beside bare and
            // xdp-filter; fw + state, fw + log and fw + live set + limit at the same ruleset unless left out).
            return o.Quick ? o with { Rules = [o.PeerRules], Prefixes = [o.PeerPrefixes], CostPrefixes = [], Mixes = ["no match"], Cost = false, Peers = true } : o;
        }
        catch (HelpRequested)
        {
            Console.WriteLine(Usage);
            return null;
        }
        catch (Exception e) when (e is ArgumentException or FormatException or OverflowException)
        {
            Console.Error.WriteLine($"Fw.Bench.Throughput: {e.Message}");
            Console.Error.WriteLine(Usage);
            return null;
        }
    }

    private static FwBuild ParseBuild(string arg)
    {
        int eq = arg.IndexOf('=');
        if (eq <= 0 || eq == arg.Length - 1)
            throw new ArgumentException($"--fw-object {arg}: LABEL=PATH");
        string path = Path.GetFullPath(arg[(eq + 1)..]);
        if (!File.Exists(path))
            throw new ArgumentException($"--fw-object {arg}: no such file");
        return new FwBuild(arg[..eq], path);
    }

    private sealed class HelpRequested : Exception;
}
