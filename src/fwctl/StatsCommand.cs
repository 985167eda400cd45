using System.CommandLine;
using Fw.Bpf;
using Fw.Kernel;

namespace Fw.Cli;

/// <summary>
/// fwctl stats [IFACE] [--per-cpu] [--json] [--watch SECONDS]: reads the pinned maps directly, so it
/// works with or without fwd.
/// </summary>
internal static class StatsCommand
{
    private static readonly Argument<string?> IfaceArgument = InterfaceArgument.Optional("The interface (default: every attached interface)");

    private static readonly Option<bool> PerCpuOption = new("--per-cpu") { Description = "Show each CPU's counters too" };

    private static readonly Option<double?> WatchOption = new("--watch", "-w")
    {
        Description = "Redraw every SECONDS with rates (pps, bit/s) until interrupted",
    };

    private static readonly Option<int?> IterationsOption = new("--iterations")
    {
        Description = "With --watch: stop after this many redraws",
    };

    public static Command Create(TextWriter stdout, TextWriter stderr)
    {
        var cmd = new Command("stats", "Show counters: per action, per CPU, per rule; default, malformed and non-IP")
        {
            IfaceArgument, PerCpuOption, WatchOption, IterationsOption, FwctlApp.JsonOption,
        };
        cmd.SetAction((p, ct) => Task.FromResult(Run(p.GetValue(IfaceArgument), p.GetValue(PerCpuOption), p.GetValue(FwctlApp.JsonOption),
            p.GetValue(WatchOption), p.GetValue(IterationsOption), stdout, stderr, ct)));
        return cmd;
    }

    public static int Run(string? iface, bool perCpu, bool json, double? watch, int? iterations, TextWriter stdout, TextWriter stderr,
        CancellationToken ct)
    {
        return Output.Run(json, stdout, stderr, () =>
        {
            var ifaces = iface is null ? PinLayout.Interfaces() : [iface];
            if (ifaces.Count == 0)
                throw new BpfException("stats: fw is not attached to any interface", 0);
            if (watch is not { } seconds)
            {
                var snaps = Read(ifaces, iface is not null);
                if (json)
                    WriteJson(stdout, snaps, iface is not null);
                else
                    foreach (var s in snaps)
                        WriteText(stdout, s, perCpu, previous: null, seconds: 0);
                return FwctlApp.ExitOk;
            }

            if (seconds <= 0)
                throw new BpfException("stats: --watch needs a positive number of seconds", 22);
            var last = new Dictionary<string, StatsSnapshot>();
            for (int i = 0; iterations is null || i < iterations; i++)
            {
                if (i > 0 && ct.WaitHandle.WaitOne(TimeSpan.FromSeconds(seconds)))
                    break;
                var snaps = Read(ifaces, iface is not null);
                if (json)
                {
                    WriteJson(stdout, snaps, iface is not null);
                }
                else
                {
                    stdout.Write("\x1b[H\x1b[2J");   // redraw in place
                    foreach (var s in snaps)
                        WriteText(stdout, s, perCpu, last.GetValueOrDefault(s.Interface), seconds);
                }
                stdout.Flush();
                foreach (var s in snaps)
                    last[s.Interface] = s;
            }
            return FwctlApp.ExitOk;
        });
    }

    /// <summary>
    /// Snapshots of the interfaces. A named one must be attached; of all attached ones (no IFACE given), one
    /// detached between listing and reading (its pins removed) is left out rather than failing the others.
    /// </summary>
    private static List<StatsSnapshot> Read(IReadOnlyList<string> ifaces, bool named)
    {
        var snaps = new List<StatsSnapshot>(ifaces.Count);
        foreach (string i in ifaces)
        {
            try
            {
                snaps.Add(StatsSnapshot.Read(i));
            }
            catch (Exception e) when (!named && e is BpfException { Errno: 2 /* ENOENT */ } or FirewallException { Error: FirewallError.NotAttached }
                && !Directory.Exists(PinLayout.Dir(i)))
            {
            }
        }
        return snaps.Count > 0 || named ? snaps : throw new BpfException("stats: fw is not attached to any interface", 0);
    }

    private static void WriteText(TextWriter w, StatsSnapshot s, bool perCpu, StatsSnapshot? previous, double seconds)
    {
        using var state = InterfaceState.Open(s.Interface);
        w.WriteLine($"{s.Interface}: generation {s.Generation}, {Format.Mode((XdpMode)state.Meta.XdpMode)} XDP, {s.Rules.Count:N0} rules");
        w.WriteLine();
        bool rates = previous is not null && previous.Generation >= 0;
        string[] RateCells(Count now, Count? before) => rates && before is { } b
            ? [Format.Pps((now.Packets - b.Packets) / seconds), Format.Bits((now.Bytes - b.Bytes) * 8 / seconds)]
            : [];

        var t = new Table(rates ? ["ACTION", "PACKETS", "BYTES", "RATE", "BITRATE"] : ["ACTION", "PACKETS", "BYTES"]);
        foreach (var (name, c, prev) in new[]
        {
            ("pass", s.Pass, previous?.Pass), ("drop", s.Drop, previous?.Drop), ("redirect", s.Redirect, previous?.Redirect),
        })
        {
            t.Add([name, $"{c.Total.Packets:N0}", $"{c.Total.Bytes:N0}", .. RateCells(c.Total, prev?.Total)]);
        }
        t.Write(w);
        w.WriteLine();

        if (perCpu)
        {
            var cpu = new Table(["CPU", "PASS PKTS", "PASS BYTES", "DROP PKTS", "DROP BYTES", "REDIR PKTS", "REDIR BYTES"]);
            for (int i = 0; i < s.Cpus; i++)
            {
                cpu.Add([$"{i}", $"{s.Pass.PerCpu[i].Packets:N0}", $"{s.Pass.PerCpu[i].Bytes:N0}", $"{s.Drop.PerCpu[i].Packets:N0}",
                    $"{s.Drop.PerCpu[i].Bytes:N0}", $"{s.Redirect.PerCpu[i].Packets:N0}", $"{s.Redirect.PerCpu[i].Bytes:N0}"]);
            }
            cpu.Write(w);
            w.WriteLine();
        }

        var cpuHeads = perCpu ? Enumerable.Range(0, s.Cpus).Select(i => $"CPU{i}").ToArray() : [];
        var rules = new Table(["RULE", "ACTION", "PACKETS", "BYTES", .. cpuHeads, .. rates ? new[] { "RATE" } : []]);
        foreach (var r in s.Rules)
        {
            var prev = previous?.Rules.FirstOrDefault(p => p.Name == r.Name);
            rules.Add([r.Limited ? r.Name + " (limit)" : r.Name, Format.Action(r.Action), $"{r.Counter.Total.Packets:N0}", $"{r.Counter.Total.Bytes:N0}",
                .. r.Counter.PerCpu.Take(perCpu ? s.Cpus : 0).Select(c => $"{c.Packets:N0}"),
                .. rates ? new[] { prev is null ? "-" : Format.Pps((r.Counter.Total.Packets - prev.Counter.Total.Packets) / seconds) } : []]);
        }
        foreach (var (name, c, prev) in new[]
        {
            ("(default)", s.Default, previous?.Default), ("(malformed)", s.Malformed, previous?.Malformed), ("(non-ip)", s.NonIp, previous?.NonIp),
        })
        {
            string action = name switch
            {
                "(default)" => Format.Action((Fw.Rules.RuleAction)state.Meta.DefaultAction),
                "(malformed)" => Format.Action((Fw.Rules.RuleAction)state.Meta.MalformedAction),
                _ => Format.Action((Fw.Rules.RuleAction)state.Meta.NonIpAction),
            };
            rules.Add([name, action, $"{c.Total.Packets:N0}", $"{c.Total.Bytes:N0}",
                .. c.PerCpu.Take(perCpu ? s.Cpus : 0).Select(x => $"{x.Packets:N0}"),
                .. rates ? new[] { prev is null ? "-" : Format.Pps((c.Total.Packets - prev.Total.Packets) / seconds) } : []]);
        }
        rules.Write(w);
        if (s.NoRuleset.Total.Packets > 0 || s.RedirectErrors.Total.Packets > 0)
        {
            w.WriteLine();
            w.WriteLine($"dropped with no ruleset: {s.NoRuleset.Total.Packets:N0}; redirects to a missing target: {s.RedirectErrors.Total.Packets:N0}");
        }
        if (s.Conntrack is { } ct)
        {
            w.WriteLine();
            w.WriteLine($"conntrack: {ct.Entries:N0} of {ct.Max:N0} entries ({ct.Fill:P1}); {ct.Inserts:N0} flows inserted, "
                + $"{ct.InsertFailures:N0} refused, {ct.Evictions:N0} evicted, {ct.Removed:N0} removed (expired or flushed)");
        }
        if (s.LogRecords.Total.Packets > 0 || s.LogOverRate.Total.Packets > 0 || s.LogBufferFull.Total.Packets > 0)
        {
            if (s.Conntrack is null)
                w.WriteLine();
            w.WriteLine($"log: {s.LogRecords.Total.Packets:N0} frames logged, {s.LogOverRate.Total.Packets:N0} over the rate, "
                + $"{s.LogBufferFull.Total.Packets:N0} lost to a full buffer");
        }
        else if (s.Conntrack is null && (s.ConntrackInserts.Total.Packets > 0 || s.ConntrackInsertFailures.Total.Packets > 0))
        {
            w.WriteLine();
            w.WriteLine($"conntrack: {s.ConntrackInserts.Total.Packets:N0} flows inserted, {s.ConntrackInsertFailures.Total.Packets:N0} refused");
        }
        if (s.Rules.Any(r => r.Limited))
        {
            w.WriteLine();
            w.WriteLine($"limits: {s.LimitOver.Total.Packets:N0} packets over their rule's rate, {s.LimitUnder.Total.Packets:N0} within it "
                + "(a limited drop rule counts those over, a pass quota those within)");
        }
        if (s.LiveSets.Count > 0)
        {
            w.WriteLine();
            var sets = new Table(["SET", "ENTRIES", "MAX", "TIMEOUT", "ADDED", "REFRESHED", "FULL", "EXPIRED", "REMOVED"]);
            foreach (var ls in s.LiveSets)
            {
                sets.Add([ls.Name, $"{ls.Entries:N0}", $"{ls.Max:N0}", ls.Timeout is { } secs ? Format.Seconds(secs) : "never", $"{ls.Added:N0}",
                    $"{ls.Refreshed:N0}", $"{ls.Full:N0}", $"{ls.Expired:N0}", $"{ls.Removed:N0}"]);
            }
            sets.Write(w);
        }
        w.WriteLine();
    }

    private static void WriteJson(TextWriter w, List<StatsSnapshot> snaps, bool single)
    {
        var objects = snaps.Select(ToJson).ToList();
        Output.WriteJson(w, single ? objects[0] : objects);
    }

    internal static Dictionary<string, object?> ToJson(StatsSnapshot s)
    {
        static Dictionary<string, object?> C(Count c) => new() { ["packets"] = c.Packets, ["bytes"] = c.Bytes };
        return new Dictionary<string, object?>
        {
            ["interface"] = s.Interface,
            ["generation"] = s.Generation,
            ["totals"] = new Dictionary<string, object?>
            {
                ["pass"] = C(s.Pass.Total), ["drop"] = C(s.Drop.Total), ["redirect"] = C(s.Redirect.Total),
            },
            ["per_cpu"] = Enumerable.Range(0, s.Cpus).Select(i => new Dictionary<string, object?>
            {
                ["cpu"] = i, ["pass"] = C(s.Pass.PerCpu[i]), ["drop"] = C(s.Drop.PerCpu[i]), ["redirect"] = C(s.Redirect.PerCpu[i]),
            }).ToList(),
            ["rules"] = s.Rules.Select(r => new Dictionary<string, object?>
            {
                ["name"] = r.Name,
                ["action"] = Format.Action(r.Action),
                ["packets"] = r.Counter.Total.Packets,
                ["bytes"] = r.Counter.Total.Bytes,
                ["per_cpu"] = r.Counter.PerCpu.Select(c => c.Packets).ToList(),
                ["limited"] = r.Limited,
            }).ToList(),
            ["default"] = C(s.Default.Total),
            ["malformed"] = C(s.Malformed.Total),
            ["non_ip"] = C(s.NonIp.Total),
            ["no_ruleset"] = C(s.NoRuleset.Total),
            ["conntrack"] = new Dictionary<string, object?>
            {
                ["inserts"] = s.ConntrackInserts.Total.Packets, ["insert_failures"] = s.ConntrackInsertFailures.Total.Packets,
                ["entries"] = s.Conntrack?.Entries ?? 0, ["max"] = s.Conntrack?.Max ?? 0,
                ["evictions"] = s.Conntrack?.Evictions ?? 0, ["removed"] = s.Conntrack?.Removed ?? 0,
            },
            ["redirect_errors"] = C(s.RedirectErrors.Total),
            ["log"] = new Dictionary<string, object?>
            {
                ["records"] = s.LogRecords.Total.Packets, ["over_rate"] = s.LogOverRate.Total.Packets,
                ["buffer_full"] = s.LogBufferFull.Total.Packets,
            },
            ["limits"] = new Dictionary<string, object?>
            {
                ["over"] = s.LimitOver.Total.Packets, ["under"] = s.LimitUnder.Total.Packets,
            },
            ["live_sets"] = s.LiveSets.Select(ls => new Dictionary<string, object?>
            {
                ["name"] = ls.Name, ["entries"] = ls.Entries, ["max"] = ls.Max, ["timeout"] = ls.Timeout,
                ["added"] = ls.Added, ["refreshed"] = ls.Refreshed, ["full"] = ls.Full, ["expired"] = ls.Expired, ["removed"] = ls.Removed,
            }).ToList(),
        };
    }
}
