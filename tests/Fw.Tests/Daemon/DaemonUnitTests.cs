using Fw.Daemon;
using Fw.Kernel;
using Fw.Rules;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace Fw.Tests.Daemon;

/// <summary>fwd's parts that need no kernel: options, the metrics text, the watcher's debounce, usage errors.</summary>
public sealed class DaemonUnitTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("fwd-unit-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Theory]
    [InlineData("127.0.0.1:9464", "127.0.0.1:9464")]
    [InlineData("[::1]:9464", "[::1]:9464")]
    [InlineData("0.0.0.0:80", "0.0.0.0:80")]
    [InlineData("localhost:9464", null)]
    [InlineData("127.0.0.1", null)]
    [InlineData("127.0.0.1:0", null)]
    [InlineData("127.0.0.1:70000", null)]
    [InlineData("::1:9464", null)]
    [InlineData("", null)]
    public void MetricsEndpoint(string text, string? expected)
    {
        var ep = FwdOptions.ParseEndpoint(text, out string? problem);
        Assert.Equal(expected, ep?.ToString());
        Assert.Equal(expected is null, problem is not null);
        if (problem is not null)
            Assert.StartsWith("--metrics ", problem);
    }

    [Fact]
    public void OptionsValidation()
    {
        var v = new FwdOptionsValidator();
        string rules = Path.Combine(_dir, "rules.yaml");
        File.WriteAllText(rules, "rules: []\n");
        Assert.True(v.Validate(null, new FwdOptions { RulesPath = rules, Metrics = "127.0.0.1:9464" }).Succeeded);
        var bad = v.Validate(null, new FwdOptions { RulesPath = Path.Combine(_dir, "nope.yaml"), Metrics = "here:1" });
        Assert.True(bad.Failed);
        Assert.Equal(2, bad.Failures!.Count());
        Assert.Contains(bad.Failures!, f => f.EndsWith("nope.yaml: no such file"));
        Assert.Contains(v.Validate(null, new FwdOptions { RulesPath = _dir }).Failures!, f => f.Contains("is a directory"));
    }

    [Fact]
    public async Task UsageErrorsExitTwoBeforeTouchingAnything()
    {
        async Task<(int, string)> Run(params string[] args)
        {
            var (o, e) = (new StringWriter(), new StringWriter());
            int rc = await FwdApp.RunAsync(args, o, e);
            return (rc, e.ToString());
        }

        var (rc, err) = await Run();
        Assert.Equal(2, rc);
        Assert.Contains("--rules", err);
        (rc, err) = await Run("--rules", Path.Combine(_dir, "missing.yaml"));
        Assert.Equal(2, rc);
        Assert.Contains("missing.yaml: no such file", err);
        string rules = Path.Combine(_dir, "rules.yaml");
        File.WriteAllText(rules, "rules: []\n");
        (rc, err) = await Run("--rules", rules, "--metrics", "localhost:9464");
        Assert.Equal(2, rc);
        Assert.Contains("--metrics 'localhost:9464': expected ADDR:PORT", err);
    }

    [Fact]
    public void PrometheusTextFormat()
    {
        var p = new PrometheusText();
        p.Family("fw_x_total", "counter", "Help with a \\ backslash.");
        p.Sample("fw_x_total", 3UL, ("interface", "fw0"), ("rule", "a\"b\\c\nd"));
        p.Sample("fw_y", 1.5);
        Assert.Equal(
            "# HELP fw_x_total Help with a \\\\ backslash.\n# TYPE fw_x_total counter\n" +
            "fw_x_total{interface=\"fw0\",rule=\"a\\\"b\\\\c\\nd\"} 3\nfw_y 1.5\n",
            p.ToString());
    }

    [Fact]
    public void MetricsTextFromASnapshot()
    {
        Counter C(params (ulong P, ulong B)[] perCpu) => new(
            Count.Sum(perCpu.Select(x => new Count(x.P, x.B))), perCpu.Select(x => new Count(x.P, x.B)).ToList());
        var zero = C((0, 0), (0, 0));
        var slots = StatsSnapshot.ReasonSlots.ToDictionary(s => s, _ => zero);
        slots[FwStatSlot.Pass] = C((1, 60), (2, 120));
        slots[FwStatSlot.Drop] = C((5, 300), (0, 0));
        slots[FwStatSlot.Default] = C((1, 60), (0, 0));
        slots[FwStatSlot.NonIp] = C((0, 0), (2, 120));
        var snap = new StatsSnapshot("fw0", 4, DateTimeOffset.UnixEpoch, slots,
            Rules: [new RuleCounter(0, "ssh", RuleAction.Drop, C((5, 300), (0, 0)))]);
        var status = new DaemonStatus();
        status.Record(true, ["fw0", "fw1"], [], null, DateTimeOffset.FromUnixTimeSeconds(1_700_000_000));
        string text = FirewallMetrics.Format(
            [new InterfaceMetrics("fw0", 4, "ab", "/etc/fw/rules.yaml", DateTimeOffset.FromUnixTimeSeconds(1_700_000_000), snap)],
            ["fw1"], status);
        string[] lines = text.Split('\n');
        Assert.Contains("fw_rule_packets_total{interface=\"fw0\",rule=\"ssh\",action=\"drop\"} 5", lines);
        Assert.Contains("fw_rule_bytes_total{interface=\"fw0\",rule=\"ssh\",action=\"drop\"} 300", lines);
        Assert.Contains("fw_action_packets_total{interface=\"fw0\",action=\"pass\"} 3", lines);
        Assert.Contains("fw_cpu_packets_total{interface=\"fw0\",cpu=\"1\",action=\"pass\"} 2", lines);
        Assert.Contains("fw_cpu_bytes_total{interface=\"fw0\",cpu=\"0\",action=\"drop\"} 300", lines);
        Assert.Contains("fw_default_packets_total{interface=\"fw0\"} 1", lines);
        Assert.Contains("fw_non_ip_bytes_total{interface=\"fw0\"} 120", lines);
        Assert.Contains("fw_generation{interface=\"fw0\"} 4", lines);
        Assert.Contains("fw_attached{interface=\"fw1\"} 0", lines);
        Assert.Contains("fw_last_reload_successful 1", lines);
        Assert.Contains("fw_last_reload_timestamp_seconds 1700000000", lines);
        Assert.Contains("fw_reloads_total{result=\"success\"} 1", lines);
        // Each family's HELP and TYPE exactly once, before its samples.
        var types = lines.Where(l => l.StartsWith("# TYPE ")).Select(l => l.Split(' ')[2]).ToList();
        Assert.Equal(types.Count, types.Distinct().Count());
        foreach (string sample in lines.Where(l => l.Length > 0 && !l.StartsWith('#')))
            Assert.Contains(types, t => sample.StartsWith(t + "{") || sample.StartsWith(t + " "));
    }

    [Fact]
    public void WatcherDebouncesABurstIntoOneChange()
    {
        string rules = Path.Combine(_dir, "rules.yaml");
        File.WriteAllText(rules, "a");
        var options = Options.Create(new FwdOptions { RulesPath = rules, Debounce = TimeSpan.FromMilliseconds(150) });
        using var w = new RulesWatcher(options, NullLogger<RulesWatcher>.Instance);
        var changes = new System.Collections.Concurrent.ConcurrentQueue<string>();
        w.Changed += changes.Enqueue;
        w.Watch([rules]);
        Assert.Equal([_dir], w.Directories);

        File.WriteAllText(Path.Combine(_dir, "unrelated.txt"), "x");   // not watched: no change
        for (int i = 0; i < 5; i++)
            File.WriteAllText(rules, $"v{i}");
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(5);
        while (changes.IsEmpty && DateTime.UtcNow < deadline)
            Thread.Sleep(10);
        Thread.Sleep(400);   // more than the debounce: a second event would have fired by now
        Assert.Equal(["rules.yaml"], changes);
    }
}

/// <summary>fwd's log lines: one line per event, diagnostics below it; journald priorities under systemd.</summary>
public sealed class FwdConsoleFormatterTests
{
    private static string Format(bool journal, Microsoft.Extensions.Logging.LogLevel level, string category, string message)
    {
        var f = new FwdConsoleFormatter(Options.Create(new FwdConsoleFormatterOptions { Journal = journal }));
        var w = new StringWriter();
        f.Write(new Microsoft.Extensions.Logging.Abstractions.LogEntry<string>(level, category, default, message, null, (s, _) => s), null, w);
        return w.ToString();
    }

    [Fact]
    public void TerminalLinesHaveTimeAndLevelAndKeepDiagnosticsBelow()
    {
        string text = Format(false, Microsoft.Extensions.Logging.LogLevel.Error, "Fw.Daemon.FirewallService", "rules.yaml: 1 error\nrules.yaml:1:1: error: x\n^");
        var lines = text.Split('\n');
        Assert.Matches(@"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z error rules\.yaml: 1 error$", lines[0]);
        Assert.Equal(["rules.yaml:1:1: error: x", "^", ""], lines[1..]);
    }

    [Fact]
    public void JournalLinesCarryThePriorityAndOtherCategoriesTheirName()
    {
        Assert.Equal("<4>Microsoft.AspNetCore: slow\n<4>second\n",
            Format(true, Microsoft.Extensions.Logging.LogLevel.Warning, "Microsoft.AspNetCore", "slow\nsecond"));
        Assert.Equal("<6>ready\n", Format(true, Microsoft.Extensions.Logging.LogLevel.Information, "Fw.Daemon.FirewallService", "ready"));
    }
}
