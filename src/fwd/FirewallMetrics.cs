using Fw.Bpf;
using Fw.Kernel;
using Fw.Rules;

namespace Fw.Daemon;

/// <summary>One interface as read for a scrape: its metadata and every counter (null: not attached).</summary>
/// <param name="PendingDeadline">When a change made with `fwctl reload --confirm` reverts unless confirmed; null: none waits.</param>
public sealed record InterfaceMetrics(string Interface, ulong Generation, string Digest, string File, DateTimeOffset LoadedAt, StatsSnapshot Stats,
    DateTimeOffset? PendingDeadline = null);

/// <summary>
/// /metrics: the pinned counters of every interface fwd manages (read as `fwctl stats` reads them, so the numbers
/// are the same), rendered with <see cref="Format"/>. Scrapes are served from a snapshot: the kernel is read at
/// most once a second however many scrapes arrive (parallel ones wait for the one read under way), and again at
/// once when fwd's own state moved (<see cref="DaemonStatus.Version"/>: a reload, an interface found unfiltered),
/// so the text never claims more than fwd knows.
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
            return _reading = Task.Run(() =>
            {
                try
                {
                    string text = Render();
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
    public string Render()
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
        return Format(read, missing, _status);
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

    /// <summary>The exposition text for what was read (pure: no kernel, testable as it is).</summary>
    public static string Format(IReadOnlyList<InterfaceMetrics> interfaces, IReadOnlyList<string> notAttached, DaemonStatus status)
    {
        var p = new PrometheusText();
        (string, string) If(InterfaceMetrics m) => ("interface", m.Interface);

        p.Family("fw_attached", "gauge", "1 when fw is attached to the interface (one the rules file names), else 0.");
        foreach (var m in interfaces)
            p.Sample("fw_attached", 1UL, If(m));
        foreach (string iface in notAttached)
            p.Sample("fw_attached", 0UL, ("interface", iface));

        p.Family("fw_generation", "gauge", "Ruleset generation on the interface; rises by one on every reload that changes it.");
        foreach (var m in interfaces)
            p.Sample("fw_generation", m.Generation, If(m));

        p.Family("fw_rules", "gauge", "Rules in the running ruleset.");
        foreach (var m in interfaces)
            p.Sample("fw_rules", (ulong)m.Stats.Rules.Count, If(m));

        p.Family("fw_ruleset_info", "gauge", "The running ruleset: its digest (same digest, same data plane) and file.");
        foreach (var m in interfaces)
            p.Sample("fw_ruleset_info", 1UL, If(m), ("digest", m.Digest), ("file", m.File));

        p.Family("fw_ruleset_loaded_timestamp_seconds", "gauge", "Unix time the running generation was loaded.");
        foreach (var m in interfaces)
            p.Sample("fw_ruleset_loaded_timestamp_seconds", m.LoadedAt.ToUnixTimeMilliseconds() / 1000.0, If(m));

        p.Family("fw_pending_confirm_deadline_timestamp_seconds", "gauge",
            "Unix time the change made with `fwctl reload --confirm` reverts unless `fwctl confirm` runs; absent when none waits.");
        foreach (var m in interfaces.Where(m => m.PendingDeadline is not null))
            p.Sample("fw_pending_confirm_deadline_timestamp_seconds", m.PendingDeadline!.Value.ToUnixTimeMilliseconds() / 1000.0, If(m));

        foreach (string unit in new[] { "packets", "bytes" })
        {
            string name = $"fw_rule_{unit}_total";
            p.Family(name, "counter", $"{Cap(unit)} matched by each rule; a rule keeps its counter across reloads while its name stays.");
            foreach (var m in interfaces)
            {
                foreach (var r in m.Stats.Rules)
                    p.Sample(name, Pick(r.Counter.Total, unit), If(m), ("rule", r.Name), ("action", ActionName(r.Action)));
            }
        }

        foreach (string unit in new[] { "packets", "bytes" })
        {
            string name = $"fw_action_{unit}_total";
            p.Family(name, "counter", $"{Cap(unit)} per verdict (rules, default, malformed and non-IP together).");
            foreach (var m in interfaces)
            {
                foreach (var (action, c) in ByAction(m.Stats))
                    p.Sample(name, Pick(c.Total, unit), If(m), ("action", action));
            }
        }

        foreach (string unit in new[] { "packets", "bytes" })
        {
            string name = $"fw_cpu_{unit}_total";
            p.Family(name, "counter", $"{Cap(unit)} per verdict on each CPU.");
            foreach (var m in interfaces)
            {
                foreach (var (action, c) in ByAction(m.Stats))
                {
                    for (int cpu = 0; cpu < c.PerCpu.Count; cpu++)
                        p.Sample(name, Pick(c.PerCpu[cpu], unit), If(m), ("cpu", cpu.ToString()), ("action", action));
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
            foreach (string unit in new[] { "packets", "bytes" })
            {
                string name = $"fw_{what}_{unit}_total";
                p.Family(name, "counter", $"{Cap(unit)} {help}.");
                foreach (var m in interfaces)
                    p.Sample(name, Pick(pick(m.Stats).Total, unit), If(m));
            }
        }

        foreach (var (what, help, pick) in new (string, string, Func<StatsSnapshot, Counter>)[]
        {
            ("inserts", "Flows put into the flow table (track rules, the egress program).", s => s.ConntrackInserts),
            ("insert_failures", "Flows the flow table refused (the packet went on).", s => s.ConntrackInsertFailures),
        })
        {
            string name = $"fw_conntrack_{what}_total";
            p.Family(name, "counter", help);
            foreach (var m in interfaces)
                p.Sample(name, pick(m.Stats).Total.Packets, If(m));
        }

        p.Family("fw_conntrack_entries", "gauge", "Entries in the flow table (expired ones not yet swept included); absent without a table.");
        foreach (var m in interfaces.Where(m => m.Stats.Conntrack is not null))
            p.Sample("fw_conntrack_entries", (ulong)m.Stats.Conntrack!.Entries, If(m));
        p.Family("fw_conntrack_max", "gauge", "The flow table's size (conntrack.max when it was made).");
        foreach (var m in interfaces.Where(m => m.Stats.Conntrack is not null))
            p.Sample("fw_conntrack_max", (ulong)m.Stats.Conntrack!.Max, If(m));
        p.Family("fw_conntrack_evictions_total", "counter", "Flows the full table evicted, least recently used first, to make room for a new one.");
        foreach (var m in interfaces.Where(m => m.Stats.Conntrack is not null))
            p.Sample("fw_conntrack_evictions_total", Monotonic(m.Stats.Conntrack!), If(m));
        p.Family("fw_conntrack_removed_total", "counter", "Entries fw removed: expired (fwd's sweep, fwctl conntrack) or flushed.");
        foreach (var m in interfaces.Where(m => m.Stats.Conntrack is not null))
            p.Sample("fw_conntrack_removed_total", m.Stats.Conntrack!.Removed, If(m));

        p.Family("fw_last_reload_successful", "gauge", "1 when the last read of the rules file (start, change, SIGHUP) was valid and applied everywhere, else 0.");
        p.Sample("fw_last_reload_successful", status.LastReloadOk ? 1UL : 0UL);
        p.Family("fw_last_reload_timestamp_seconds", "gauge", "Unix time of the last read of the rules file.");
        p.Sample("fw_last_reload_timestamp_seconds", Seconds(status.LastReloadAt));
        p.Family("fw_last_reload_success_timestamp_seconds", "gauge", "Unix time of the last successful read of the rules file.");
        p.Sample("fw_last_reload_success_timestamp_seconds", Seconds(status.LastSuccessAt));
        p.Family("fw_reloads_total", "counter", "Reads of the rules file by result.");
        p.Sample("fw_reloads_total", (ulong)status.Successes, ("result", "success"));
        p.Sample("fw_reloads_total", (ulong)status.Failures, ("result", "failure"));
        return p.ToString();
    }

    // Evictions are derived from counters read a moment apart from the entries (ConntrackCounts): a packet inserting
    // in between can make one reading lower than the last, and a counter must never go back.
    private static readonly System.Collections.Concurrent.ConcurrentDictionary<uint, ulong> s_evictions = new();

    private static ulong Monotonic(ConntrackCounts ct) =>
        s_evictions.AddOrUpdate(ct.TableId, ct.Evictions, (_, last) => Math.Max(last, ct.Evictions));

    private static IEnumerable<(string, Counter)> ByAction(StatsSnapshot s) =>
        [("pass", s.Pass), ("drop", s.Drop), ("redirect", s.Redirect)];

    private static ulong Pick(Count c, string unit) => unit == "packets" ? c.Packets : c.Bytes;

    private static string Cap(string unit) => unit == "packets" ? "Packets" : "Bytes of packets";

    private static double Seconds(DateTimeOffset? t) => t is null ? 0 : t.Value.ToUnixTimeMilliseconds() / 1000.0;
}
