using System.Globalization;
using System.Text;
using Fw.Bpf;
using Fw.Kernel;
using Fw.Rules;
using Prom = Prometheus;

namespace Fw.Daemon;

/// <summary>One interface as read for a scrape: its metadata and every counter (null: not attached).</summary>
/// <param name="PendingDeadline">When a change made with `fwctl reload --confirm` reverts unless confirmed; null: none waits.</param>
public sealed record InterfaceMetrics(string Interface, ulong Generation, string Digest, string File, DateTimeOffset LoadedAt, StatsSnapshot Stats,
    DateTimeOffset? PendingDeadline = null);

/// <summary>
/// /metrics: the pinned counters of every interface fwd manages (read as `fwctl stats` reads them, so the numbers
/// are the same), written by prometheus-net (<see cref="FormatAsync"/>). Scrapes are served from a snapshot: the
/// kernel is read at most once a second however many scrapes arrive (parallel ones wait for the one read under
/// way), and again at once when fwd's own state moved (<see cref="DaemonStatus.Version"/>: a reload, an interface
/// found unfiltered), so the text never claims more than fwd knows.
/// </summary>
public sealed class FirewallMetrics
{
    /// <summary>How long one read of the kernel serves scrapes.</summary>
    public static readonly TimeSpan MaxAge = TimeSpan.FromSeconds(1);

    private sealed record Snapshot(string Text, long TakenAt, long Version);

    private readonly DaemonStatus _status;
    private readonly Func<string, InterfaceMetrics?> _read;
    private readonly TimeProvider _time;
    private readonly Lock _lock = new();
    private Snapshot? _last;
    private Task<string>? _reading;
    private long _kernelReads;

    public FirewallMetrics(DaemonStatus status)
        : this(status, Read, TimeProvider.System)
    {
    }

    /// <param name="read">One interface's metrics, null when fw does not filter it (tests pass their own).</param>
    internal FirewallMetrics(DaemonStatus status, Func<string, InterfaceMetrics?> read, TimeProvider time)
    {
        _status = status;
        _read = read;
        _time = time;
    }

    /// <summary>How many times the kernel was read (each read covers every managed interface).</summary>
    internal long KernelReads => Interlocked.Read(ref _kernelReads);

    /// <summary>The text to serve: the snapshot while it is fresh, else the one read under way, else a new read.</summary>
    public Task<string> CurrentAsync()
    {
        lock (_lock)
        {
            long version = _status.Version;
            if (_last is { } s && s.Version == version && _time.GetElapsedTime(s.TakenAt) < MaxAge)
                return Task.FromResult(s.Text);
            if (_reading is not null)
                return _reading;
            long takenAt = _time.GetTimestamp();   // the age counts from before the read: at most one read a second
            return _reading = Task.Run(async () =>
            {
                try
                {
                    string text = await RenderAsync();
                    lock (_lock)
                        _last = new Snapshot(text, takenAt, version);
                    return text;
                }
                finally
                {
                    lock (_lock)
                        _reading = null;
                }
            });
        }
    }

    /// <summary>Reads the kernel now and renders the text (no snapshot).</summary>
    public Task<string> RenderAsync()
    {
        Interlocked.Increment(ref _kernelReads);
        var read = new List<InterfaceMetrics>();
        var missing = new List<string>();
        foreach (string iface in _status.Managed)
        {
            var m = _read(iface);
            if (m is null)
                missing.Add(iface);
            else
                read.Add(m);
        }
        return FormatAsync(read, missing, _status);
    }

    /// <summary>
    /// An interface fw filters right now; null when it does not: not attached, or its pinned link lost the
    /// interface (deleted, perhaps created again: defunct). A reload may remove the generation being read between
    /// two opens: try again.
    /// </summary>
    private static InterfaceMetrics? Read(string iface)
    {
        for (int attempt = 0; ; attempt++)
        {
            try
            {
                if (Firewall.StateOf(iface) != AttachState.Attached)
                    return null;
                using var state = InterfaceState.Open(iface);
                var meta = state.Meta;
                var pending = PendingConfirm.Read(iface) is { } p && p.Generation == meta.Generation ? p.Deadline : (DateTimeOffset?)null;
                return new InterfaceMetrics(iface, meta.Generation, meta.DigestHex, meta.FileName,
                    DateTimeOffset.FromUnixTimeMilliseconds((long)(meta.LoadedNs / 1_000_000)), StatsSnapshot.Read(state), pending);
            }
            catch (Exception e) when (e is BpfException or FirewallException or IOException && attempt < 3)
            {
                Thread.Sleep(5);
            }
            catch (Exception e) when (e is BpfException or FirewallException or IOException)
            {
                return null;
            }
        }
    }

    private static string ActionName(RuleAction a) => a switch
    {
        RuleAction.Pass => "pass",
        RuleAction.Drop => "drop",
        RuleAction.Redirect => "redirect",
        _ => a.ToString().ToLowerInvariant(),
    };

    /// <summary>
    /// The exposition text for what was read (pure: no kernel, testable as it is): a registry made for this read
    /// alone (<see cref="Registry"/>), written out by prometheus-net in the Prometheus text format 0.0.4.
    /// </summary>
    public static async Task<string> FormatAsync(IReadOnlyList<InterfaceMetrics> interfaces, IReadOnlyList<string> notAttached, DaemonStatus status)
    {
        using var text = new MemoryStream();
        await Registry(interfaces, notAttached, status).CollectAndExportAsTextAsync(text);
        return Encoding.UTF8.GetString(text.GetBuffer(), 0, (int)text.Length);
    }

    /// <summary>
    /// Every series of one read, in a registry of its own. The kernel's counters are absolute values: each read
    /// fills a new registry with them rather than moving long-lived prometheus-net counters, so a series whose
    /// interface, rule or flow table went is simply not there, a counter the kernel started again (a table made
    /// anew, detach and attach) starts again here too, and a scrape never mixes two reads. Not the default
    /// registry: that one adds the process's and the runtime's metrics. Families are written in the order they
    /// are made here, series in the order they are first set. prometheus-net holds values as doubles, as Prometheus
    /// stores them: a counter past 2^53 is written as the nearest double, the sample a scraper stored anyway.
    /// </summary>
    public static Prom.CollectorRegistry Registry(IReadOnlyList<InterfaceMetrics> interfaces, IReadOnlyList<string> notAttached, DaemonStatus status)
    {
        var registry = Prom.Metrics.NewCustomRegistry();
        var f = Prom.Metrics.WithCustomRegistry(registry);
        const string If = "interface";

        var attached = f.CreateGauge("fw_attached", "1 when fw is attached to the interface (one the rules file names), else 0.", If);
        foreach (var m in interfaces)
            attached.WithLabels(m.Interface).Set(1);
        foreach (string iface in notAttached)
            attached.WithLabels(iface).Set(0);

        var generation = f.CreateGauge("fw_generation", "Ruleset generation on the interface; rises by one on every reload that changes it.", If);
        foreach (var m in interfaces)
            generation.WithLabels(m.Interface).Set(m.Generation);

        var rules = f.CreateGauge("fw_rules", "Rules in the running ruleset.", If);
        foreach (var m in interfaces)
            rules.WithLabels(m.Interface).Set(m.Stats.Rules.Count);

        var info = f.CreateGauge("fw_ruleset_info", "The running ruleset: its digest (same digest, same data plane) and file.", If, "digest", "file");
        foreach (var m in interfaces)
            info.WithLabels(m.Interface, m.Digest, m.File).Set(1);

        var loaded = f.CreateGauge("fw_ruleset_loaded_timestamp_seconds", "Unix time the running generation was loaded.", If);
        foreach (var m in interfaces)
            loaded.WithLabels(m.Interface).Set(m.LoadedAt.ToUnixTimeMilliseconds() / 1000.0);

        var pending = f.CreateGauge("fw_pending_confirm_deadline_timestamp_seconds",
            "Unix time the change made with `fwctl reload --confirm` reverts unless `fwctl confirm` runs; absent when none waits.", If);
        foreach (var m in interfaces.Where(m => m.PendingDeadline is not null))
            pending.WithLabels(m.Interface).Set(m.PendingDeadline!.Value.ToUnixTimeMilliseconds() / 1000.0);

        foreach (string unit in Units)
        {
            var c = f.CreateCounter($"fw_rule_{unit}_total",
                $"{Cap(unit)} matched by each rule; a rule keeps its counter across reloads while its name stays.", If, "rule", "action");
            foreach (var m in interfaces)
            {
                foreach (var r in m.Stats.Rules)
                    c.WithLabels(m.Interface, r.Name, ActionName(r.Action)).IncTo(Pick(r.Counter.Total, unit));
            }
        }

        foreach (string unit in Units)
        {
            var c = f.CreateCounter($"fw_action_{unit}_total", $"{Cap(unit)} per verdict (rules, default, malformed and non-IP together).", If, "action");
            foreach (var m in interfaces)
            {
                foreach (var (action, counter) in ByAction(m.Stats))
                    c.WithLabels(m.Interface, action).IncTo(Pick(counter.Total, unit));
            }
        }

        foreach (string unit in Units)
        {
            var c = f.CreateCounter($"fw_cpu_{unit}_total", $"{Cap(unit)} per verdict on each CPU.", If, "cpu", "action");
            foreach (var m in interfaces)
            {
                foreach (var (action, counter) in ByAction(m.Stats))
                {
                    for (int cpu = 0; cpu < counter.PerCpu.Count; cpu++)
                        c.WithLabels(m.Interface, cpu.ToString(CultureInfo.InvariantCulture), action).IncTo(Pick(counter.PerCpu[cpu], unit));
                }
            }
        }

        foreach (var (what, help, pick) in new (string, string, Func<StatsSnapshot, Counter>)[]
        {
            ("default", "that no rule matched (the default verdict)", s => s.Default),
            ("malformed", "with truncated or invalid headers (the malformed verdict)", s => s.Malformed),
            ("non_ip", "that are not IPv4 or IPv6 (the non_ip verdict)", s => s.NonIp),
            ("no_ruleset", "that arrived while no generation was installed (dropped, fail closed)", s => s.NoRuleset),
            ("redirect_error", "dropped because their redirect target was missing", s => s.RedirectErrors),
        })
        {
            foreach (string unit in Units)
            {
                var c = f.CreateCounter($"fw_{what}_{unit}_total", $"{Cap(unit)} {help}.", If);
                foreach (var m in interfaces)
                    c.WithLabels(m.Interface).IncTo(Pick(pick(m.Stats).Total, unit));
            }
        }

        foreach (var (what, help, pick) in new (string, string, Func<StatsSnapshot, Counter>)[]
        {
            ("inserts", "Flows put into the flow table (track rules, the egress program).", s => s.ConntrackInserts),
            ("insert_failures", "Flows the flow table refused (the packet went on).", s => s.ConntrackInsertFailures),
        })
        {
            var c = f.CreateCounter($"fw_conntrack_{what}_total", help, If);
            foreach (var m in interfaces)
                c.WithLabels(m.Interface).IncTo(pick(m.Stats).Total.Packets);
        }

        var withTable = interfaces.Where(m => m.Stats.Conntrack is not null).ToList();
        var entries = f.CreateGauge("fw_conntrack_entries", "Entries in the flow table (expired ones not yet swept included); absent without a table.", If);
        foreach (var m in withTable)
            entries.WithLabels(m.Interface).Set(m.Stats.Conntrack!.Entries);
        var max = f.CreateGauge("fw_conntrack_max", "The flow table's size (conntrack.max when it was made).", If);
        foreach (var m in withTable)
            max.WithLabels(m.Interface).Set(m.Stats.Conntrack!.Max);
        var evictions = f.CreateCounter("fw_conntrack_evictions_total", "Flows the full table evicted, least recently used first, to make room for a new one.", If);
        foreach (var m in withTable)
            evictions.WithLabels(m.Interface).IncTo(Monotonic(m.Stats.Conntrack!));
        var removed = f.CreateCounter("fw_conntrack_removed_total", "Entries fw removed: expired (fwd's sweep, fwctl conntrack) or flushed.", If);
        foreach (var m in withTable)
            removed.WithLabels(m.Interface).IncTo(m.Stats.Conntrack!.Removed);

        var logged = f.CreateCounter("fw_log_records_total", "Frames written to the packet log (fwctl log reads it).", If);
        foreach (var m in interfaces)
            logged.WithLabels(m.Interface).IncTo(m.Stats.LogRecords.Total.Packets);
        var lost = f.CreateCounter("fw_log_dropped_total",
            "Frames to log that were not written: over log.rate (reason rate) or with the ring buffer full (reason buffer_full).", [If, "reason"]);
        foreach (var m in interfaces)
        {
            lost.WithLabels(m.Interface, "rate").IncTo(m.Stats.LogOverRate.Total.Packets);
            lost.WithLabels(m.Interface, "buffer_full").IncTo(m.Stats.LogBufferFull.Total.Packets);
        }

        var over = f.CreateCounter("fw_limit_over_total", "Limit checks that found the packet over its rule's rate (a limited drop rule drops these).", If);
        var under = f.CreateCounter("fw_limit_under_total", "Limit checks that found the packet within its rule's rate (a pass quota passes these).", If);
        foreach (var m in interfaces)
        {
            over.WithLabels(m.Interface).IncTo(m.Stats.LimitOver.Total.Packets);
            under.WithLabels(m.Interface).IncTo(m.Stats.LimitUnder.Total.Packets);
        }

        const string Set = "set";
        var setEntries = f.CreateGauge("fw_set_entries", "Entries in a live set (expired ones not yet swept included).", If, Set);
        var setMax = f.CreateGauge("fw_set_max", "A live set's max: entries at most.", If, Set);
        foreach (var m in interfaces)
        {
            foreach (var ls in m.Stats.LiveSets)
            {
                setEntries.WithLabels(m.Interface, ls.Name).Set(ls.Entries);
                setMax.WithLabels(m.Interface, ls.Name).Set(ls.Max);
            }
        }
        foreach (var (what, help, pick) in new (string, string, Func<LiveSetCounts, ulong>)[]
        {
            ("added", "Entries added to a live set: by add_to and by fwctl set add and sync.", c => c.Added),
            ("refreshed", "add_to of a source already in the set: its expiry moved on.", c => c.Refreshed),
            ("full", "add_to's adds the full set refused (the set held max entries).", c => c.Full),
            ("expired", "Expired entries fwd's sweep removed (every 10 s).", c => c.Expired),
            ("removed", "Entries removed by fwctl set del, flush and sync.", c => c.Removed),
        })
        {
            var c = f.CreateCounter($"fw_set_{what}_total", help, If, Set);
            foreach (var m in interfaces)
            {
                foreach (var ls in m.Stats.LiveSets)
                    c.WithLabels(m.Interface, ls.Name).IncTo(pick(ls));
            }
        }

        f.CreateGauge("fw_last_reload_successful", "1 when the last read of the rules file (start, change, SIGHUP) was valid and applied everywhere, else 0.")
            .Set(status.LastReloadOk ? 1 : 0);
        f.CreateGauge("fw_last_reload_timestamp_seconds", "Unix time of the last read of the rules file.")
            .Set(Seconds(status.LastReloadAt));
        f.CreateGauge("fw_last_reload_success_timestamp_seconds", "Unix time of the last successful read of the rules file.")
            .Set(Seconds(status.LastSuccessAt));
        var reloads = f.CreateCounter("fw_reloads_total", "Reads of the rules file by result.", "result");
        reloads.WithLabels("success").IncTo(status.Successes);
        reloads.WithLabels("failure").IncTo(status.Failures);
        return registry;
    }

    private static readonly string[] Units = ["packets", "bytes"];

    // Evictions are derived from counters read a moment apart from the entries (ConntrackCounts): a packet inserting
    // in between can make one reading lower than the last, and a counter must never go back.
    private static readonly System.Collections.Concurrent.ConcurrentDictionary<uint, ulong> s_evictions = new();

    private static ulong Monotonic(ConntrackCounts ct) =>
        s_evictions.AddOrUpdate(ct.TableId, ct.Evictions, (_, last) => Math.Max(last, ct.Evictions));

    private static IEnumerable<(string, Counter)> ByAction(StatsSnapshot s) =>
        [("pass", s.Pass), ("drop", s.Drop), ("redirect", s.Redirect)];

    private static double Pick(Count c, string unit) => unit == "packets" ? c.Packets : c.Bytes;

    private static string Cap(string unit) => unit == "packets" ? "Packets" : "Bytes of packets";

    private static double Seconds(DateTimeOffset? t) => t is null ? 0 : t.Value.ToUnixTimeMilliseconds() / 1000.0;
}
