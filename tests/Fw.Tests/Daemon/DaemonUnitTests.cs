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
    [InlineData("0.0.0.0:80", "0.0.0.0:80")]
    [InlineData("10.0.0.1:1", "10.0.0.1:1")]
    [InlineData("192.0.2.100:65535", "192.0.2.100:65535")]
    [InlineData("255.255.255.255:9464", "255.255.255.255:9464")]
    [InlineData("[::1]:9464", "[::1]:9464")]
    [InlineData("[::]:9464", "[::]:9464")]
    [InlineData("[2001:db8::1]:9464", "[2001:db8::1]:9464")]
    [InlineData("[2001:DB8:0:0:0:0:0:1]:9464", "[2001:db8::1]:9464")]
    [InlineData("[::ffff:192.0.2.1]:9464", "[::ffff:192.0.2.1]:9464")]
    // inet_aton's short forms: "0" is 0.0.0.0, "127.1" 127.0.0.1, a number a whole address.
    [InlineData("0:9464", null)]
    [InlineData("127.1:9464", null)]
    [InlineData("127.0.1:9464", null)]
    [InlineData("2130706433:9464", null)]
    // Leading zeros (octal to some parsers: 010 is 8), hex, out of range, too many parts, empty parts.
    [InlineData("010.0.0.1:9464", null)]
    [InlineData("127.0.0.01:9464", null)]
    [InlineData("0x7f.0.0.1:9464", null)]
    [InlineData("256.0.0.1:9464", null)]
    [InlineData("1.2.3.1000:9464", null)]
    [InlineData("1.2.3.4.5:9464", null)]
    [InlineData("1..2.3:9464", null)]
    [InlineData("1.2.3.:9464", null)]
    [InlineData("-1.2.3.4:9464", null)]
    [InlineData("+1.2.3.4:9464", null)]
    [InlineData("１２７.0.0.1:9464", null)]   // fullwidth digits
    // Names, no port, bad ports.
    [InlineData("localhost:9464", null)]
    [InlineData("127.0.0.1", null)]
    [InlineData("127.0.0.1:", null)]
    [InlineData(":9464", null)]
    [InlineData("127.0.0.1:0", null)]
    [InlineData("127.0.0.1:00", null)]
    [InlineData("127.0.0.1:09464", null)]
    [InlineData("127.0.0.1:65536", null)]
    [InlineData("127.0.0.1:70000", null)]
    [InlineData("127.0.0.1:123456", null)]
    [InlineData("127.0.0.1:+9464", null)]
    [InlineData("127.0.0.1:-1", null)]
    [InlineData("127.0.0.1:0x24e8", null)]
    [InlineData("127.0.0.1:٩٤٦٤", null)]   // Arabic-Indic digits
    [InlineData("127.0.0.1: 9464", null)]
    [InlineData(" 127.0.0.1:9464", null)]
    [InlineData("127.0.0.1:9464 ", null)]
    [InlineData("127.0.0.1:9464/metrics", null)]
    [InlineData("http://127.0.0.1:9464", null)]
    // IPv6: brackets required, nothing but the address inside them.
    [InlineData("::1:9464", null)]
    [InlineData("::1", null)]
    [InlineData("[::1]", null)]
    [InlineData("[::1]:", null)]
    [InlineData("[::1]9464", null)]
    [InlineData("[::1:9464", null)]
    [InlineData("[]:9464", null)]
    [InlineData("[fe80::1%eth0]:9464", null)]
    [InlineData("[127.0.0.1]:9464", null)]
    [InlineData("[::ffff:010.0.0.1]:9464", null)]
    [InlineData("[ ::1]:9464", null)]
    [InlineData("[::1]:0", null)]
    [InlineData("[::1]:65536", null)]
    [InlineData("", null)]
    public void MetricsEndpoint(string text, string? expected)
    {
        var ep = FwdOptions.ParseEndpoint(text, out string? problem);
        Assert.Equal(expected, ep?.ToString());
        Assert.Equal(expected is null, problem is not null);
        if (problem is not null)
            Assert.StartsWith($"--metrics '{text}': ", problem);
    }

    [Fact]
    public void MetricsEndpointErrorsSayWhatIsWrong()
    {
        string Problem(string text)
        {
            Assert.Null(FwdOptions.ParseEndpoint(text, out string? problem));
            return problem!;
        }

        Assert.Contains("'010' has a leading zero", Problem("010.0.0.1:9464"));
        Assert.Contains("dotted-quad", Problem("0:9464"));
        Assert.Contains("'localhost' is a name", Problem("localhost:9464"));
        Assert.Contains("in brackets", Problem("::1:9464"));
        Assert.Contains("the port '09464' has a leading zero", Problem("127.0.0.1:09464"));
        Assert.Contains("the port must be 1-65535", Problem("127.0.0.1:65536"));
        Assert.Contains("zone id", Problem("[fe80::1%eth0]:9464"));
    }

    [Theory]
    [InlineData("0.0.0.0:9464", true)]
    [InlineData("[::]:9464", true)]
    [InlineData("[0:0:0:0:0:0:0:0]:9464", true)]
    [InlineData("127.0.0.1:9464", false)]
    [InlineData("[::1]:9464", false)]
    [InlineData("192.0.2.1:9464", false)]
    public void WildcardEndpoints(string text, bool wildcard) =>
        Assert.Equal(wildcard, FwdOptions.IsWildcard(FwdOptions.ParseEndpoint(text, out _)!));

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
    public async Task MetricsTextFromASnapshot()
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
        string text = await FirewallMetrics.FormatAsync(
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
    public async Task ConntrackMetricsFromASnapshotAndEvictionsNeverGoBack()
    {
        var zero = new Counter(new Count(0, 0), [new Count(0, 0)]);
        var slots = StatsSnapshot.ReasonSlots.ToDictionary(s => s, _ => zero);
        async Task<string> Text(ulong inserts, int entries, uint tableId)
        {
            var ct = new ConntrackCounts(1024, entries, inserts, 2, 10, 5) { TableId = tableId };
            var snap = new StatsSnapshot("fw0", 1, DateTimeOffset.UnixEpoch, slots, Rules: []) { Conntrack = ct };
            var status = new DaemonStatus();
            status.Record(true, ["fw0"], [], null, DateTimeOffset.FromUnixTimeSeconds(1_700_000_000));
            return await FirewallMetrics.FormatAsync([new InterfaceMetrics("fw0", 1, "ab", "/r.yaml", DateTimeOffset.UnixEpoch, snap)], [], status);
        }
        uint table = (uint)Random.Shared.Next(1_000_000, int.MaxValue);   // keyed by table: other tests' tables are others
        string[] lines = (await Text(inserts: 1000, entries: 600, table)).Split('\n');
        Assert.Contains("fw_conntrack_entries{interface=\"fw0\"} 600", lines);
        Assert.Contains("fw_conntrack_max{interface=\"fw0\"} 1024", lines);
        Assert.Contains("fw_conntrack_evictions_total{interface=\"fw0\"} 385", lines);   // 1000 - 10 reused - 5 removed - 600
        Assert.Contains("fw_conntrack_removed_total{interface=\"fw0\"} 5", lines);
        // Read while a packet inserts: the derived figure dips; the counter stays.
        Assert.Contains("fw_conntrack_evictions_total{interface=\"fw0\"} 385", (await Text(inserts: 1000, entries: 601, table)).Split('\n'));
        // A table made anew (detach, attach) starts over.
        Assert.Contains("fw_conntrack_evictions_total{interface=\"fw0\"} 0", (await Text(inserts: 10, entries: 600, table + 1)).Split('\n'));
    }

    /// <summary>A clock that moves only when told to.</summary>
    private sealed class ManualClock : TimeProvider
    {
        private long _ticks;

        public override long TimestampFrequency => TimeSpan.TicksPerSecond;

        public override long GetTimestamp() => Interlocked.Read(ref _ticks);

        public void Advance(TimeSpan by) => Interlocked.Add(ref _ticks, by.Ticks);
    }

    private static InterfaceMetrics FakeMetrics(string iface, ulong generation)
    {
        var zero = new Counter(new Count(0, 0), [new Count(0, 0)]);
        var slots = StatsSnapshot.ReasonSlots.ToDictionary(s => s, _ => zero);
        return new InterfaceMetrics(iface, generation, "ab", "/etc/fw/rules.yaml", DateTimeOffset.UnixEpoch,
            new StatsSnapshot(iface, generation, DateTimeOffset.UnixEpoch, slots, Rules: []));
    }

    [Fact]
    public async Task ScrapesShareOneKernelReadASecond()
    {
        var status = new DaemonStatus();
        status.Record(true, ["fw0"], [], null, DateTimeOffset.FromUnixTimeSeconds(1_700_000_000));
        var clock = new ManualClock();
        using var inKernel = new ManualResetEventSlim();
        using var release = new ManualResetEventSlim();
        int reads = 0;
        InterfaceMetrics Read(string iface)
        {
            int n = Interlocked.Increment(ref reads);
            inKernel.Set();
            release.Wait(TimeSpan.FromSeconds(30));
            return FakeMetrics(iface, (ulong)n);   // every read returns another generation: another text
        }
        var metrics = new FirewallMetrics(status, Read, clock);

        // 64 scrapes at once, while the first one's read is still in the kernel: they all wait for that read.
        const int Scrapes = 64;
        int handed = 0;
        var scrapes = Enumerable.Range(0, Scrapes).Select(_ => Task.Run(() =>
        {
            var t = metrics.CurrentAsync();
            Interlocked.Increment(ref handed);
            return t;
        })).ToArray();
        Assert.True(inKernel.Wait(TimeSpan.FromSeconds(30)));
        Assert.True(SpinWait.SpinUntil(() => Volatile.Read(ref handed) == Scrapes, TimeSpan.FromSeconds(30)));
        release.Set();
        string[] bodies = await Task.WhenAll(scrapes);
        Assert.Single(bodies.Distinct());
        Assert.Contains("fw_generation{interface=\"fw0\"} 1\n", bodies[0]);
        Assert.Equal(1, reads);
        Assert.Equal(1, metrics.KernelReads);

        // Within the second: the same snapshot, no read.
        clock.Advance(FirewallMetrics.MaxAge - TimeSpan.FromTicks(1));
        Assert.Equal(bodies[0], await metrics.CurrentAsync());
        Assert.Equal(1, metrics.KernelReads);

        // A second after the read began: one new read, however many scrapes.
        clock.Advance(TimeSpan.FromTicks(1));
        string[] later = await Task.WhenAll(Enumerable.Range(0, Scrapes).Select(_ => Task.Run(metrics.CurrentAsync)));
        Assert.Single(later.Distinct());
        Assert.Contains("fw_generation{interface=\"fw0\"} 2\n", later[0]);
        Assert.Equal(2, metrics.KernelReads);

        // fwd's own state moved (a reload, an interface found unfiltered): read again at once.
        status.SetInterfaces([]);
        Assert.Contains("fw_generation{interface=\"fw0\"} 3\n", await metrics.CurrentAsync());
        Assert.Equal(3, metrics.KernelReads);
        Assert.Equal(3, reads);
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
