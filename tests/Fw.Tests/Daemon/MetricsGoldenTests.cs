using Fw.Daemon;
using Fw.Kernel;
using Fw.Rules;

namespace Fw.Tests.Daemon;

/// <summary>
/// fwd's /metrics text for a fixed set of snapshots, compared with the golden files in Daemon/golden/, made by the
/// hand-written exposition writer fwd had before prometheus-net: every family, HELP, TYPE, sample, label and value
/// as scrapers saw them then. To make a golden file again after an intended change, copy the `.actual` file the
/// failing test names over it and read the diff.
/// </summary>
public sealed class MetricsGoldenTests
{
    private static readonly string GoldenDir = Path.Combine(AppContext.BaseDirectory, "Daemon", "golden");

    /// <summary>A counter from its per-CPU (packets, bytes); the total is their sum, as the kernel read gives it.</summary>
    private static Counter C(params (ulong P, ulong B)[] perCpu) =>
        new(Count.Sum(perCpu.Select(x => new Count(x.P, x.B))), perCpu.Select(x => new Count(x.P, x.B)).ToList());

    private static readonly Counter Zero4 = C((0, 0), (0, 0), (0, 0), (0, 0));

    /// <summary>
    /// fw0: four CPUs, rules of every action (one never matched), a flow table, two live sets and limits' checks, a change waiting for confirmation,
    /// byte counters past 10^15, 2^53 and 10^17 (a 100 Gbit/s link gets there in a day, a week, three months). fw1: a file
    /// name that needs escaping, no flow table. fw2: named by the rules file, not attached. The last read of the
    /// rules file failed after two good ones.
    /// </summary>
    private static Task<string> Everything()
    {
        var slots0 = StatsSnapshot.ReasonSlots.ToDictionary(s => s, _ => Zero4);
        slots0[FwStatSlot.Pass] = C((10, 640), (20, 1_280), (12_345_678_901, 12_345_678_901_234_567), (0, 0));
        slots0[FwStatSlot.Drop] = C((5, 300), (7, 1_000_000_000_000_000), (0, 0), (1, 60));
        slots0[FwStatSlot.Redirect] = C((0, 0), (3, 180), (0, 0), (0, 123_456_789_012_345_678));
        slots0[FwStatSlot.Default] = C((2, 120), (0, 0), (0, 0), (1, 64));
        slots0[FwStatSlot.Malformed] = C((0, 0), (0, 0), (4, 200), (0, 0));
        slots0[FwStatSlot.NonIp] = C((6, 360), (0, 0), (0, 0), (0, 0));
        slots0[FwStatSlot.NoRuleset] = C((1, 60), (0, 0), (0, 0), (0, 0));
        slots0[FwStatSlot.RedirectErr] = C((0, 0), (0, 0), (0, 0), (2, 120));
        slots0[FwStatSlot.CtInsert] = C((2_000, 0), (3_000, 0), (0, 0), (0, 0));
        slots0[FwStatSlot.CtInsertFail] = C((0, 0), (3, 0), (0, 0), (0, 0));
        slots0[FwStatSlot.CtReuse] = C((100, 0), (0, 0), (0, 0), (0, 0));
        slots0[FwStatSlot.CtRemoved] = C((700, 0), (0, 0), (0, 0), (0, 0));
        slots0[FwStatSlot.LimitOver] = C((40, 0), (2, 0), (0, 0), (0, 0));
        slots0[FwStatSlot.LimitUnder] = C((900, 0), (0, 0), (100, 0), (0, 0));
        var rules0 = new List<RuleCounter>
        {
            new(0, "drop-blocklisted", RuleAction.Drop, C((2, 108), (0, 0), (0, 0), (0, 0))),
            new(1, "ssh-from-admin", RuleAction.Pass, C((0, 0), (3, 162), (0, 0), (0, 0))),
            new(2, "to-mirror", RuleAction.Redirect, C((0, 0), (3, 180), (0, 0), (0, 0))),
            new(3, "never-matched", RuleAction.Drop, Zero4),
        };
        var snap0 = new StatsSnapshot("fw0", 17, DateTimeOffset.UnixEpoch, slots0, rules0)
        {
            // Evictions: 5,000 inserts - 100 reuses - 700 removed - 1,200 entries = 3,000. Table 7: no other test's
            // table (they draw theirs from 1,000,000 up), so the never-go-back memory starts empty.
            Conntrack = new ConntrackCounts(65_536, 1_200, 5_000, 3, 100, 700) { TableId = 7 },
            LiveSets =
            [
                new LiveSetCounts("banned", 12, 65_536, 600, 30, 4, 0, 17, 1),
                new LiveSetCounts("feed", 100_000, 131_072, null, 100_250, 0, 0, 0, 250),
            ],
        };

        var slots1 = StatsSnapshot.ReasonSlots.ToDictionary(s => s, _ => Zero4);
        slots1[FwStatSlot.Pass] = C((1, 60), (0, 0), (0, 0), (0, 0));
        var snap1 = new StatsSnapshot("fw1", 1, DateTimeOffset.UnixEpoch, slots1,
            [new RuleCounter(0, "web", RuleAction.Pass, C((1, 60), (0, 0), (0, 0), (0, 0)))]);

        var status = new DaemonStatus();
        string[] managed = ["fw0", "fw1", "fw2"];
        status.Record(true, managed, [], null, DateTimeOffset.FromUnixTimeMilliseconds(1_795_339_690_500));
        status.Record(true, managed, [], null, DateTimeOffset.FromUnixTimeMilliseconds(1_795_339_694_155));
        status.Record(false, managed, [], "rules.yaml: 1 error", DateTimeOffset.FromUnixTimeMilliseconds(1_795_339_695_976));

        return FirewallMetrics.FormatAsync(
        [
            new InterfaceMetrics("fw0", 17, "f5ddb8627e78de2af8deb724d0695ffe3e3fb5db9780f09fc69dbef914335734", "/etc/fw/rules.yaml",
                DateTimeOffset.FromUnixTimeMilliseconds(1_795_339_694_155), snap0,
                PendingDeadline: DateTimeOffset.FromUnixTimeMilliseconds(1_795_339_754_155)),
            new InterfaceMetrics("fw1", 1, "6756cbc8b5c5aa43b2cf9a9d6c5b8a1ff1e26b7cc76ecbd07d0c3fe7f8e0a101", "/srv/fw/a \"b\"\\c\nd.yaml",
                DateTimeOffset.FromUnixTimeSeconds(1_700_000_000), snap1),
        ], ["fw2"], status);
    }

    /// <summary>No interface named (rules: [] and no interfaces:) after one good read: the families with no samples.</summary>
    private static Task<string> NoInterfaces()
    {
        var status = new DaemonStatus();
        status.Record(true, [], [], null, DateTimeOffset.FromUnixTimeSeconds(1_700_000_000));
        return FirewallMetrics.FormatAsync([], [], status);
    }

    public static TheoryData<string> Cases => ["everything", "no-interfaces"];

    /// <summary>
    /// Compared as a scraper reads it, line by line in order: HELP and TYPE lines, and each sample's name and labels,
    /// byte for byte; each sample's value as the float64 a Prometheus parser makes of it. The text of a value may
    /// differ in one way only, which prometheus-net has by design: it holds values as doubles, so a counter past 2^53
    /// is written as the nearest double (…4567 as …4568) and one from 10^17 on in exponent form (1.2345678901234568e+17).
    /// Prometheus stores every sample as a float64: it read the old exact integers as that same double.
    /// </summary>
    [Theory]
    [MemberData(nameof(Cases))]
    public async Task MetricsTextIsTheGoldenOne(string name)
    {
        string actual = name switch
        {
            "everything" => await Everything(),
            "no-interfaces" => await NoInterfaces(),
            _ => throw new ArgumentException(name),
        };
        string goldenPath = Path.Combine(GoldenDir, name + ".prom");
        string golden = File.ReadAllText(goldenPath);
        var problems = Compare(golden, actual, out var rounded);
        if (problems.Count > 0)
            File.WriteAllText(goldenPath + ".actual", actual);
        Assert.True(problems.Count == 0,
            $"{name}: the text differs from {goldenPath} (the text made is in {goldenPath}.actual):\n{string.Join("\n", problems)}");
        if (name == "everything")
            Assert.Equal(4, rounded);   // the four values past 2^53; every other line is byte for byte the old one
    }

    /// <summary>2^53: every integer up to it is a double exactly.</summary>
    private const double TwoTo53 = 9_007_199_254_740_992;

    private static List<string> Compare(string golden, string actual, out int rounded)
    {
        var problems = new List<string>();
        rounded = 0;
        string[] want = golden.Split('\n'), got = actual.Split('\n');
        for (int i = 0; i < Math.Max(want.Length, got.Length); i++)
        {
            string w = i < want.Length ? want[i] : "(nothing)", g = i < got.Length ? got[i] : "(nothing)";
            if (w.StartsWith("# HELP ", StringComparison.Ordinal) && w.Contains('\\'))
                problems.Add($"line {i + 1}: a HELP text with a backslash (prometheus-net writes HELP as it is, unescaped): {w}");
            if (w == g)
                continue;
            if (Sample(w) is { } ws && Sample(g) is { } gs && ws.Series == gs.Series && ws.Value == gs.Value && ws.Value >= TwoTo53)
            {
                rounded++;
                continue;
            }
            problems.Add($"line {i + 1}: expected {w}\n{new string(' ', $"line {i + 1}: ".Length - 4)}got {g}");
        }
        return problems;
    }

    /// <summary>A sample line's series (name and labels, as written) and value; null for a comment or a blank.</summary>
    private static (string Series, double Value)? Sample(string line)
    {
        if (line.Length == 0 || line.StartsWith('#'))
            return null;
        int sp = line.LastIndexOf(' ');
        return sp < 0 || !double.TryParse(line[(sp + 1)..], System.Globalization.NumberStyles.Float,
            System.Globalization.CultureInfo.InvariantCulture, out double v) ? null : (line[..sp], v);
    }
}
