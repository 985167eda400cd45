using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Threading.Channels;
using Fw.Bpf;
using Fw.Control;
using Fw.Kernel;
using Fw.Rules;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Fw.Daemon;

/// <summary>
/// fwd's one job: keep the interfaces the rules file names running that file's ruleset.
/// <list type="bullet">
/// <item>StartAsync makes the data plane live before the host reports ready: each interface is attached,
/// or, when fw is already attached (an earlier fwd, or fwctl), adopted: kept as it is when it runs the same
/// ruleset (same digest: the filter never stopped, counters continue), reloaded otherwise. Invalid rules or
/// a missing interface: the diagnostics of `fwctl check`, nothing attached, exit 2.</item>
/// <item>A change of the rules or set files, or SIGHUP, reconciles again: a bad edit is logged and the running
/// ruleset stays; interfaces added to `interfaces:` are attached, removed ones detached.</item>
/// <item>Between reads, a watch checks every few hundred ms that each interface is still filtered
/// (<see cref="Firewall.StateOf"/>): one pinned link opened, no lock. An interface deleted and created again under
/// its name leaves fw's link defunct (nothing filters it), one detached behind fwd's back has none: the watch logs
/// what it found, the status and /metrics say so at once, and it reconciles, which attaches again (an interface
/// that is gone is attached again as soon as it is back).</item>
/// <item>StopAsync leaves the filter in place (an appliance must not fail open) unless --detach-on-exit.</item>
/// </list>
/// All work on the rules and the kernel goes through <see cref="Deployment"/>, as fwctl's does, and the kernel layer
/// holds the interface's lock, so fwd and fwctl never interleave two changes. Reconciles run one at a time on one worker.
/// </summary>
internal sealed class FirewallService : IHostedService, IDisposable
{
    private readonly FwdOptions _options;
    private readonly ILogger<FirewallService> _log;
    private readonly DaemonStatus _status;
    private readonly SystemdNotifier _notifier;
    private readonly IHostApplicationLifetime _lifetime;
    private readonly RulesWatcher _watcher;
    private readonly Channel<string> _triggers = Channel.CreateUnbounded<string>(new UnboundedChannelOptions { SingleReader = true });
    private PosixSignalRegistration? _sighup;
    private Task? _worker;
    /// <summary>The interfaces the file named at the last successful read: fwd attached or adopted them.</summary>
    private List<string> _managed = [];
    /// <summary>What the watch last found on each managed interface it found unfiltered (worker thread only).</summary>
    private readonly Dictionary<string, Unfiltered> _unfiltered = new(StringComparer.Ordinal);

    /// <summary>An interface fw does not filter: how (defunct or not attached), its ifindex then (0: gone), since when fwd last tried.</summary>
    private readonly record struct Unfiltered(AttachState State, int Ifindex, long TriedAt);

    /// <summary>While an interface stays unfiltered with nothing changing, a reconcile is tried again this often.</summary>
    private static readonly TimeSpan RetryUnfiltered = TimeSpan.FromSeconds(30);

    public FirewallService(IOptions<FwdOptions> options, ILogger<FirewallService> log, DaemonStatus status,
        SystemdNotifier notifier, IHostApplicationLifetime lifetime, ILogger<RulesWatcher> watcherLog)
    {
        _options = options.Value;
        _log = log;
        _status = status;
        _notifier = notifier;
        _lifetime = lifetime;
        _watcher = new RulesWatcher(options, watcherLog);
        _watcher.Changed += what => Trigger($"{what} changed");
    }

    private string RulesPath => _options.RulesPath;

    public Task StartAsync(CancellationToken cancellationToken)
    {
        // Before anything else: SIGHUP's default action would end the process. Triggers queue until the worker runs.
        _sighup = PosixSignalRegistration.Create(PosixSignal.SIGHUP, ctx =>
        {
            ctx.Cancel = true;
            Trigger("SIGHUP");
        });

        var check = Deployment.Check(RulesPath, CheckScope.Daemon);
        _watcher.Watch(RulesCheck.Inputs(RulesPath, check.Ruleset));   // an edit made while we attach is not lost
        if (!check.Ok)
        {
            LogInvalid(check, $"{RulesPath}: {{0}}, nothing attached");
            throw new FwdStartException(FwdApp.ExitUsage, "invalid rules");
        }
        LogWarnings(check);

        var rs = check.Ruleset!;
        var attachedNow = new List<string>();
        foreach (string iface in rs.Interfaces)
        {
            try
            {
                if (Apply(iface, check, null) == ApplyOutcome.Attached)
                    attachedNow.Add(iface);
            }
            catch (Exception e)
            {
                _log.LogError("start failed: {Iface}: {Error}", iface, e.Message);
                // What this start attached goes again; what it adopted stays as it was found (or reloaded).
                foreach (string done in attachedNow)
                    TryDetach(done, "start failed");
                throw new FwdStartException(FwdApp.ExitFailure, e.Message);
            }
        }
        _managed = [.. rs.Interfaces];
        _status.Record(true, _managed, Infos(), null, DateTimeOffset.UtcNow);

        // The callback outlives this method: it must not hold the ruleset (a million prefixes are ~50 MB).
        string watching = string.Join(", ", RulesCheck.Inputs(RulesPath, rs));
        _lifetime.ApplicationStarted.Register(() =>
        {
            ReleaseMemory();
            _log.LogInformation("ready: {Summary}; watching {Files}{Metrics}", _status.Summary(), watching,
                _options.Metrics is null ? "" : $"; metrics at http://{_options.MetricsEndpoint}/metrics");
        });
        _worker = Task.Run(WorkAsync, CancellationToken.None);
        return Task.CompletedTask;
    }

    public async Task StopAsync(CancellationToken cancellationToken)
    {
        _sighup?.Dispose();
        _watcher.Dispose();
        _triggers.Writer.TryComplete();
        if (_worker is not null)
        {
            try
            {
                await _worker.WaitAsync(cancellationToken);   // a reload under way finishes: it is one map write from done
            }
            catch (OperationCanceledException)
            {
                _log.LogWarning("stopping while a reload is still running");
            }
        }
        if (_options.DetachOnExit)
        {
            foreach (string iface in _managed)
                TryDetach(iface, "--detach-on-exit");
            return;
        }
        if (_managed.Count > 0)
        {
            _log.LogInformation("stopping; the filter stays on {Running} (pinned under {Root}; a new fwd adopts it)",
                _status.Running(), PinLayout.Root);
        }
    }

    public void Dispose()
    {
        _sighup?.Dispose();
        _watcher.Dispose();
    }

    private void Trigger(string reason) => _triggers.Writer.TryWrite(reason);

    /// <summary>
    /// Gives the memory of a read and compile back to the system once the kernel holds the result. A ruleset
    /// of a million prefixes takes a few hundred MB while it is parsed and compiled, and none of it is needed
    /// afterwards, but the GC keeps the heap it grew: fwd stayed at 266 MB resident with 4,096 rules and
    /// 1,000,000 prefixes attached, ~400 MB after one reload. One blocking, compacting collection that returns
    /// the free space to the OS (Aggressive), after a start or a reload only; with a small heap it takes ms.
    /// </summary>
    private static void ReleaseMemory() =>
        GC.Collect(GC.MaxGeneration, GCCollectionMode.Aggressive, blocking: true, compacting: true);

    /// <summary>
    /// The one worker: reconciles on each trigger (a burst is one reconcile), and between triggers watches that the
    /// interfaces are still filtered, so a watch never runs beside a reconcile (which attaches and detaches).
    /// </summary>
    private async Task WorkAsync()
    {
        Task<bool>? next = null;
        while (true)
        {
            next ??= _triggers.Reader.WaitToReadAsync().AsTask();
            if (!next.IsCompleted)
                await Task.WhenAny(next, Task.Delay(_options.WatchInterval));
            if (!next.IsCompleted)
            {
                string? found = null;
                try
                {
                    found = Watch();
                }
                catch (Exception e)
                {
                    _log.LogError(e, "checking the interfaces failed unexpectedly");
                }
                if (found is not null)
                    Run(found);
                continue;
            }
            if (!await next)
                break;
            next = null;
            var reasons = new List<string>();
            while (_triggers.Reader.TryRead(out string? r))
            {
                if (!reasons.Contains(r))
                    reasons.Add(r);
            }
            Run(string.Join(", ", reasons));
        }
    }

    private void Run(string reason)
    {
        try
        {
            Reconcile(reason);
        }
        catch (Exception e)
        {
            _log.LogError(e, "reload failed unexpectedly; the running ruleset stays");
        }
        ReleaseMemory();
    }

    /// <summary>
    /// Checks that fw filters every managed interface (a pinned link opened per interface, no lock). What it finds
    /// unfiltered is logged once, shown at once (status, /metrics), and returned as the reason for a reconcile,
    /// which attaches again; not while the interface is gone (it is when it comes back), and again only when
    /// something changes or after <see cref="RetryUnfiltered"/>. Null: nothing to do.
    /// </summary>
    /// <summary>
    /// A change made with `fwctl reload --confirm` whose deadline passed and which its timer did not revert (the timer
    /// was killed): fwd reverts it, as the timer would have. A change within its deadline is the timer's.
    /// </summary>
    private void RevertOverdue(string iface)
    {
        try
        {
            if (Firewall.Pending(iface) is not { } p || p.Deadline > DateTimeOffset.UtcNow - OverdueGrace)
                return;
            if (Deployment.Revert(iface, p.Token) is { } done)
            {
                _log.LogWarning("revert {Iface}: generation {Generation} was not confirmed by {Deadline:HH:mm:ss} UTC and its timer is gone; " +
                    "generation {Previous} runs again", iface, done.Generation, done.Deadline, done.PreviousGeneration);
                _status.SetInterfaces(Infos());   // the generation changed: /metrics and STATUS= read it again
            }
        }
        catch (Exception e) when (e is BpfException or FirewallException or IOException)
        {
            _log.LogError("revert {Iface} after its confirm deadline failed: {Error}", iface, e.Message);
        }
    }

    /// <summary>When the watch last swept each interface's flow table and live sets (worker thread only).</summary>
    private readonly Dictionary<string, long> _sweptAt = new(StringComparer.Ordinal);

    /// <summary>
    /// Removes the expired entries of the interface's flow table and of its live sets, every
    /// <see cref="FwdOptions.ConntrackSweepInterval"/> (10 s).
    /// </summary>
    private void SweepExpired(string iface)
    {
        if (_sweptAt.TryGetValue(iface, out long at) && Stopwatch.GetElapsedTime(at) < _options.ConntrackSweepInterval)
            return;
        _sweptAt[iface] = Stopwatch.GetTimestamp();
        try
        {
            using var table = ConntrackTable.Open(iface);
            if (table is not null && table.Sweep() is var removed and > 0)
                _log.LogDebug("{Iface}: {Removed} expired flows removed", iface, removed);
        }
        catch (Exception e) when (e is BpfException or FirewallException or IOException)
        {
            _log.LogWarning("sweeping the flow table of {Iface} failed: {Error}", iface, e.Message);
        }
        try
        {
            if (LiveSets.Sweep(iface, KernelClock.CoarseNs()) is var expired and > 0)
                _log.LogDebug("{Iface}: {Expired} expired live set entries removed", iface, expired);
        }
        catch (Exception e) when (e is BpfException or FirewallException or IOException)
        {
            _log.LogWarning("sweeping the live sets of {Iface} failed: {Error}", iface, e.Message);
        }
    }

    /// <summary>How long past a confirm deadline fwd leaves the revert to its timer.</summary>
    private static readonly TimeSpan OverdueGrace = TimeSpan.FromSeconds(2);

    private string? Watch()
    {
        var reasons = new List<string>();
        bool moved = false;
        long now = Stopwatch.GetTimestamp();
        foreach (string gone in _unfiltered.Keys.Where(i => !_managed.Contains(i)).ToList())
            _unfiltered.Remove(gone);
        foreach (string iface in _managed)
        {
            AttachState state;
            try
            {
                state = Firewall.StateOf(iface);
            }
            catch (Exception e) when (e is BpfException or IOException)
            {
                _log.LogDebug("checking {Iface}: {Error}", iface, e.Message);
                continue;
            }
            bool known = _unfiltered.TryGetValue(iface, out var before);
            if (state == AttachState.Attached)
            {
                RevertOverdue(iface);
                SweepExpired(iface);
                if (known)
                {
                    _unfiltered.Remove(iface);
                    moved = true;
                }
                continue;
            }
            int ifindex = NetInterface.TryIndex(iface);
            bool changed = !known || before.State != state || before.Ifindex != ifindex;
            bool retry = known && !changed && ifindex != 0 && Stopwatch.GetElapsedTime(before.TriedAt) >= RetryUnfiltered;
            if (!changed && !retry)
                continue;
            moved |= changed;
            _unfiltered[iface] = new Unfiltered(state, ifindex, now);
            string what = state == AttachState.Defunct ? $"{iface} lost its XDP link" : $"{iface} not attached";
            if (retry)
            {
                _log.LogWarning("{Iface}: still not filtered ({What}); trying again", iface, what);
            }
            else if (ifindex == 0)
            {
                _log.LogWarning("{Iface} is gone: {How}, so nothing filters it; fwd attaches again as soon as {Iface} is back", iface,
                    state == AttachState.Defunct ? "fw's pinned XDP link lost its interface" : "fw is not attached to it", iface);
            }
            else if (state == AttachState.Defunct)
            {
                _log.LogWarning("{Iface}: fw's pinned XDP link lost its interface ({Iface} was deleted and created again, now ifindex {Ifindex}), " +
                    "so nothing filters it; attaching again", iface, iface, ifindex);
            }
            else
            {
                _log.LogWarning("{Iface}: fw is not attached (detached behind fwd's back?), so nothing filters it; attaching again", iface);
            }
            if (ifindex != 0)
                reasons.Add(what);
        }
        if (moved)
        {
            // Status first: whoever reads the log line finds /metrics and STATUS= already saying so.
            _status.SetInterfaces(Infos());
            _notifier.Status(_status.Summary());
        }
        return reasons.Count == 0 ? null : string.Join(", ", reasons);
    }

    /// <summary>Reads the file again and makes every interface it names run it.</summary>
    private void Reconcile(string reason)
    {
        var now = DateTimeOffset.UtcNow;
        _notifier.Reloading($"reloading: {reason}");
        var check = Deployment.Check(RulesPath, CheckScope.Daemon);
        if (check.Ruleset is not null)
            _watcher.Watch(RulesCheck.Inputs(RulesPath, check.Ruleset));
        if (!check.Ok)
        {
            // Status first: whoever reads the log line finds /metrics and STATUS= already saying so.
            string format = $"{RulesPath}: {{0}}; the running ruleset stays ({reason})";
            _status.Record(false, _managed, Infos(), Headline(check, format), now);
            LogInvalid(check, format);
            _notifier.Ready(_status.Summary());
            return;
        }

        var rs = check.Ruleset!;
        string digest = check.Image!.Digest();
        bool changed = false;
        var errors = new List<string>();
        var managed = new List<string>();
        foreach (string iface in rs.Interfaces)
        {
            managed.Add(iface);
            try
            {
                if (Apply(iface, check, reason) != ApplyOutcome.Unchanged)
                    changed = true;
            }
            catch (Exception e)
            {
                errors.Add($"{iface}: {e.Message}");
                _log.LogError("reload {Iface} failed ({Reason}): {Error}; it keeps running what it ran", iface, reason, e.Message);
            }
        }
        foreach (string iface in _managed.Where(i => !rs.Interfaces.Contains(i)))
        {
            if (!TryDetach(iface, "no longer in interfaces:"))
            {
                errors.Add($"{iface}: detach failed");
                managed.Add(iface);   // still ours: tried again next time
            }
            changed = true;
        }
        _managed = managed;
        _status.Record(errors.Count == 0, _managed, Infos(), errors.FirstOrDefault(), now);
        if (changed && errors.Count == 0)
            LogWarnings(check);
        if (!changed && errors.Count == 0)
            _log.LogInformation("{File}: ruleset unchanged ({Reason}; digest {Digest}), nothing reloaded", RulesPath, reason, Short(digest));
        _notifier.Ready(_status.Summary());
    }

    /// <summary>Makes one interface run the checked ruleset (<see cref="Deployment.Apply"/>) and logs what it did.</summary>
    /// <param name="reason">What made fwd look (null: start).</param>
    private ApplyOutcome Apply(string iface, CheckResult check, string? reason)
    {
        bool starting = reason is null;
        string why = starting ? "" : $" ({reason})";
        int rules = check.Image!.Rules.Count;
        string digest = check.Image.Digest();
        var a = Deployment.Apply(iface, check);
        switch (a.Outcome)
        {
            case ApplyOutcome.Attached:
                var r = a.Change!;
                _log.LogInformation("attach {Iface}{Why}: generation {Generation}, {Rules}, {Mode} XDP{FellBack} ({Ms:F0} ms)",
                    iface, why, r.Generation, Plural(rules, "rule"), r.Mode.ToString().ToLowerInvariant(),
                    r.FellBackToGeneric ? " (no native XDP on this driver)" : "", r.Took.TotalMilliseconds);
                break;
            case ApplyOutcome.Unchanged when starting:
                _log.LogInformation("adopt {Iface}: generation {Generation} already runs this ruleset (digest {Digest}); counters continue",
                    iface, a.PreviousGeneration, Short(digest));
                break;
            case ApplyOutcome.Reloaded:
                _log.LogInformation("{Verb} {Iface}{Why}: generation {Old} -> {New}, {Rules}, digest {OldDigest} -> {Digest}{Stale} ({Ms:F0} ms)",
                    starting ? "adopt and reload" : "reload", iface, why, a.PreviousGeneration, a.Generation, Plural(rules, "rule"),
                    Short(a.PreviousDigest), Short(digest), a.Stale is null ? "" : $", same ruleset but {a.Stale}",
                    a.Change!.Took.TotalMilliseconds);
                break;
        }
        return a.Outcome;
    }

    private bool TryDetach(string iface, string why)
    {
        try
        {
            if (Directory.Exists(PinLayout.Dir(iface)))
            {
                Deployment.Detach(iface);
                _log.LogInformation("detach {Iface} ({Why})", iface, why);
            }
            return true;
        }
        catch (Exception e)
        {
            _log.LogError("detach {Iface} ({Why}) failed: {Error}", iface, why, e.Message);
            return false;
        }
    }

    /// <summary>What each managed interface fw filters runs now, read from its pins (a defunct link filters nothing).</summary>
    private List<DaemonStatus.InterfaceInfo> Infos()
    {
        var list = new List<DaemonStatus.InterfaceInfo>();
        foreach (string iface in _managed)
        {
            try
            {
                if (Firewall.StateOf(iface) != AttachState.Attached)
                    continue;
                using var state = InterfaceState.Open(iface);
                list.Add(new DaemonStatus.InterfaceInfo(iface, state.Meta.Generation, (int)state.Meta.Rules, state.Meta.DigestHex));
            }
            catch (Exception e) when (e is Fw.Bpf.BpfException or FirewallException or IOException)
            {
                // Not attached (detached behind fwd's back, or a failed attach): it shows as such.
            }
        }
        return list;
    }

    /// <summary>
    /// Logs the findings as `fwctl check` prints them, under one headline ({0} in <paramref name="format"/>
    /// becomes "N errors"); returns the headline.
    /// </summary>
    private string LogInvalid(CheckResult check, string format)
    {
        string headline = Headline(check, format);
        _log.LogError("{Headline}\n{Diagnostics}", headline, Render(check.Diagnostics));
        return headline;
    }

    private static string Headline(CheckResult check, string format) =>
        string.Format(format, Plural(check.Diagnostics.Count(d => d.Severity == Severity.Error), "error"));

    private void LogWarnings(CheckResult check)
    {
        var warnings = check.Diagnostics.Where(d => d.Severity == Severity.Warning).ToList();
        if (warnings.Count > 0)
        {
            _log.LogWarning("{File}: {Warnings}\n{Diagnostics}", RulesPath, Plural(warnings.Count, "warning"), Render(warnings));
        }
    }

    private static string Render(IEnumerable<Diagnostic> diagnostics)
    {
        var w = new StringWriter();
        DiagnosticWriter.Write(w, diagnostics);
        return w.ToString().TrimEnd('\n', '\r');
    }

    internal static string Plural(long n, string what) => $"{n:N0} {what}{(n == 1 ? "" : "s")}";

    private static string Short(string digest) => digest.Length > 12 ? digest[..12] : digest;
}
