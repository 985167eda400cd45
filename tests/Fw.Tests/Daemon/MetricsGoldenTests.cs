using Fw.Daemon;
using Fw.Kernel;
using Fw.Rules;

namespace Fw.Tests.Daemon;

/// <summary>
/// fwd's /metrics text for a fixed set of snapshots, compared with the golden files in Daemon/golden/ (made from
/// the hand-written exposition writer before fwd moved to prometheus-net): every family, HELP, TYPE, sample, label
/// and value as scrapers saw them. To make a golden file again after an intended change, copy the `.actual` file
/// the failing test names over it and read the diff.
/// </summary>
public sealed class MetricsGoldenTests
{
    private static readonly string GoldenDir = Path.Combine(AppContext.BaseDirectory, "Daemon", "golden");

    /// <summary>A counter from its per-CPU (packets, bytes); the total is their sum, as the kernel read gives it.</summary>
    private static Counter C(params (ulong P, ulong B)[] perCpu) =>
        new(Count.Sum(perCpu.Select(x => new Count(x.P, x.B))), perCpu.Select(x => new Count(x.P, x.B)).ToList());

    private static readonly Counter Zero4 = C((0, 0), (0, 0), (0, 0), (0, 0));

    /// <summary>
    /// fw0: four CPUs, rules of every action (one never matched), a flow table, a change waiting for confirmation,
    /// byte counters past 10^15, 2^53 and 10^17 (a 100 Gbit/s link gets there in a day, a week, three months). fw1: a file
    /// name that needs escaping, no flow table. fw2: named by the rules file, not attached. The last read of the
    /// rules file failed after two good ones.
    /// </summary>
    private static string Everything()
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

        return FirewallMetrics.Format(
        [
            new InterfaceMetrics("fw0", 17, "f5ddb8627e78de2af8deb724d0695ffe3e3fb5db9780f09fc69dbef914335734", "/etc/fw/rules.yaml",
                DateTimeOffset.FromUnixTimeMilliseconds(1_795_339_694_155), snap0,
                PendingDeadline: DateTimeOffset.FromUnixTimeMilliseconds(1_795_339_754_155)),
            new InterfaceMetrics("fw1", 1, "6756cbc8b5c5aa43b2cf9a9d6c5b8a1ff1e26b7cc76ecbd07d0c3fe7f8e0a101", "/srv/fw/a \"b\"\\c\nd.yaml",
                DateTimeOffset.FromUnixTimeSeconds(1_700_000_000), snap1),
        ], ["fw2"], status);
    }

    /// <summary>No interface named (rules: [] and no interfaces:) after one good read: the families with no samples.</summary>
    private static string NoInterfaces()
    {
        var status = new DaemonStatus();
        status.Record(true, [], [], null, DateTimeOffset.FromUnixTimeSeconds(1_700_000_000));
        return FirewallMetrics.Format([], [], status);
    }

    public static TheoryData<string> Cases => ["everything", "no-interfaces"];

    [Theory]
    [MemberData(nameof(Cases))]
    public void MetricsTextIsTheGoldenOne(string name)
    {
        string actual = name switch
        {
            "everything" => Everything(),
            "no-interfaces" => NoInterfaces(),
            _ => throw new ArgumentException(name),
        };
        string goldenPath = Path.Combine(GoldenDir, name + ".prom");
        string golden = File.ReadAllText(goldenPath);
        if (golden != actual)
            File.WriteAllText(goldenPath + ".actual", actual);
        Assert.True(golden == actual, $"{name}: the text differs from {goldenPath}; the text made is in {goldenPath}.actual");
    }
}
