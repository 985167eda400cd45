using System.Runtime.InteropServices;
using System.Text.RegularExpressions;
using Fw.Kernel;

namespace Fw.Lab.Demo;

/// <summary>
/// One run of the demo: a lab; the rules attached to fw0 with the real fwctl; the client's traffic to the server;
/// connections the server side opens to the client (their replies come back through the flow table); a copy of the
/// rules with a redirect rule into the sink, loaded with <c>fwctl reload</c>, and its traffic; <c>fwctl stats</c>;
/// detach; the lab removed. Every line of traffic is checked (where it went, which fw counter moved, and for a
/// flow that leaves, that fw inserted it), and so are the totals (every action counted). On a failure or Ctrl-C
/// the step under way finishes, then everything goes.
/// </summary>
internal sealed class Demo(string fwctl, string rules, TextWriter output)
{
    private volatile bool _stop;
    private int _checks, _failed, _fwctlFailed;

    public int Run()
    {
        using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, Interrupt);
        using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Interrupt);
        using var sighup = PosixSignalRegistration.Create(PosixSignal.SIGHUP, Interrupt);
        Lab? lab = null;
        SinkRuleset? sinkRules = null;
        bool attached = false;
        Lab.InterfacesDeleted += Leftovers.Remove;   // fw's pins of the lab's interfaces go with them
        try
        {
            lab = new Lab();
            Topology(lab);
            if (_stop)
                return 1;

            if (!Fwctl(lab, "attach", lab.FwClientIf, "--rules", rules).Ok)
                return 1;
            attached = true;
            var traffic = new Scenarios(lab);

            Round(lab, $"Traffic from the client through fw0 to the server ({Path.GetFileName(rules)} decides; the counter is fw's own):",
                traffic.FromClient());
            Round(lab, """
                Connections the server side opens to the client: they leave through fw0, where fw records their flows, so the
                client's replies come in as established (rule "replies"); what the client starts on its own is new:
                """, traffic.FromServer());
            if (_stop)
                return 1;

            sinkRules = SinkRuleset.Write(rules, lab.FwSinkIf);
            output.WriteLine($"""
                A redirect rule into the sink: {lab.FwSinkIf} exists only in the lab's fw namespace, so the demo adds the rule at the
                end of a copy of {Path.GetFileName(rules)} ({sinkRules.RulesFile}):
                {sinkRules.Rule}

                """);
            if (!Fwctl(lab, "reload", lab.FwClientIf, "--rules", sinkRules.RulesFile).Ok)
                return 1;
            Round(lab, "Traffic under generation 2 (the flow table is the interface's, kept; counters carry over by rule name):",
                traffic.ToSink());
            if (_stop)
                return 1;

            Fwctl(lab, "stats", lab.FwClientIf);
            Totals(lab.FwClientIf);
            FlowTable(lab);
            attached = !Fwctl(lab, "detach", lab.FwClientIf).Ok;
            output.WriteLine(_failed == 0
                ? $"fw demo: all {_checks} checks as the rules say."
                : $"fw demo: {_failed} of {_checks} checks FAILED.");
            if (_fwctlFailed > 0)
                output.WriteLine($"fw demo: {_fwctlFailed} fwctl command{(_fwctlFailed == 1 ? "" : "s")} failed.");
            return _failed == 0 && _fwctlFailed == 0 ? 0 : 1;
        }
        catch (Exception e)
        {
            Console.Error.WriteLine($"fw demo: {e.Message}");
            return 1;
        }
        finally
        {
            if (attached && lab is not null)
            {
                try
                {
                    lab.Fw.Exec(fwctl, "detach", lab.FwClientIf);
                }
                catch (Exception e)
                {
                    Console.Error.WriteLine($"fw demo: detach: {e.Message}");
                }
            }
            sinkRules?.Dispose();
            if (lab is not null)
            {
                lab.Dispose();
                output.WriteLine($"lab {lab.Id} removed.");
            }
        }
    }

    private void Interrupt(PosixSignalContext context)
    {
        context.Cancel = true;   // finish the step under way, then clean up
        if (!_stop)
            Console.Error.WriteLine("fw demo: interrupted; cleaning up");
        _stop = true;
    }

    private void Topology(Lab lab)
    {
        output.WriteLine($"""
            fw demo: a veth lab (namespaces {lab.Id}-*), filtered by {rules}

              client ns  c0  {LabNet.ClientV4}/24  {LabNet.ClientV6}/64  (admin range)  -----  fw0  |  fw ns: fw attached to fw0,
                             {LabNet.ClientOtherV4}/24  {LabNet.ClientOtherV6}/64  (outside it)                |  routes between its three
              server ns  s0  {LabNet.ServerV4}/24  {LabNet.ServerV6}/64                 -----  fw1  |  interfaces
              sink ns    k0  {LabNet.SinkV4}/24  {LabNet.SinkV6}/64                 -----  fw2  |

            """);
    }

    private ExecResult Fwctl(Lab lab, params string[] args)
    {
        output.WriteLine($"$ fwctl {string.Join(' ', args)}        # in the lab's fw namespace (nsenter --net={lab.Fw.Path})");
        var r = lab.Fw.Exec([fwctl, .. args], null, TimeSpan.FromSeconds(60));
        if (r.Stdout.Trim().Length > 0)
            output.WriteLine(r.Stdout.TrimEnd());
        if (r.Stderr.Trim().Length > 0)
            Console.Error.WriteLine(r.Stderr.TrimEnd());
        if (!r.Ok)
        {
            Console.Error.WriteLine($"fw demo: fwctl exited with {r.ExitCode}");
            _fwctlFailed++;
        }
        output.WriteLine();
        return r;
    }

    /// <summary>Plays <paramref name="scenarios"/> under a title, one checked line each, then a tally.</summary>
    private void Round(Lab lab, string title, IReadOnlyList<Scenario> scenarios)
    {
        if (_stop)
            return;
        output.WriteLine(title);
        output.WriteLine($"       {"proto",-6} {"flow",-47} {"what",-26} {"result",-7} {"counted in",-20} detail");
        int good = 0, played = 0;
        foreach (var s in scenarios)
        {
            if (_stop)
                break;
            played++;
            if (Play(lab, s))
                good++;
        }
        output.WriteLine(_stop ? $"interrupted after {played} of {scenarios.Count}." : $"{good} of {played} as the rules say.");
        output.WriteLine();
    }

    /// <summary>
    /// Sends one scenario and prints one line: where it went, the counter fw counted it in, what arrived (and, for an
    /// exchange that opens a flow through fw0, how many flows fw inserted meanwhile).
    /// </summary>
    private bool Play(Lab lab, Scenario s)
    {
        var before = Counters.Read(lab.FwClientIf);
        var outcome = s.Send();
        Thread.Sleep(50);   // the last ACKs of a finished exchange are counted before the next one starts
        var after = Counters.Read(lab.FwClientIf);
        var moved = after.Rules.Where(kv => kv.Value > before.Rules.GetValueOrDefault(kv.Key))
            .OrderByDescending(kv => kv.Value - before.Rules.GetValueOrDefault(kv.Key)).Select(kv => kv.Key).ToList();
        ulong flows = after.Flows - before.Flows;
        bool counted = moved.Contains(s.Counter);
        bool ok = outcome.Fate == s.Expected && counted && (!s.NewFlow || flows > 0);
        string counter = counted ? s.Counter : moved.Count > 0 ? string.Join(",", moved) : "no counter moved";
        string detail = s.NewFlow ? $"{outcome.Detail}; {flows} flow{(flows == 1 ? "" : "s")} inserted" : outcome.Detail;
        Check(ok, $"{s.Proto,-6} {s.Flow,-47} {s.What,-26} {Result(outcome.Fate)} {counter,-20} {detail}");
        return ok;
    }

    private static string Result(Fate f) => f switch
    {
        Fate.Arrived => "arrived",
        Fate.Blocked => "blocked",
        _ => "in sink",
    };

    /// <summary>Checks what fwctl stats showed: every action counted, flows inserted and none refused, no redirect lost.</summary>
    private void Totals(string iface)
    {
        var s = StatsSnapshot.Read(iface);
        ulong pass = s.Pass.Total.Packets, drop = s.Drop.Total.Packets, redirect = s.Redirect.Total.Packets;
        ulong inserted = s.ConntrackInserts.Total.Packets, refused = s.ConntrackInsertFailures.Total.Packets;
        ulong lost = s.RedirectErrors.Total.Packets;
        Check(pass > 0 && drop > 0 && redirect > 0 && inserted > 0 && refused == 0 && lost == 0,
            $"every action counted: pass {pass:N0}, drop {drop:N0}, redirect {redirect:N0} packets; "
            + $"conntrack: {inserted:N0} flows inserted, {refused:N0} refused; {lost:N0} redirects to a missing target");
        output.WriteLine();
    }

    /// <summary>The flow table itself, when this fwctl lists it (fwctl conntrack is newer than this demo); shown, not checked.</summary>
    private void FlowTable(Lab lab)
    {
        var help = Command.Run(fwctl, "--help");
        if (help.Ok && Regex.IsMatch(help.Stdout, @"^  conntrack[ <]", RegexOptions.Multiline))
        {
            output.WriteLine($"$ fwctl conntrack {lab.FwClientIf}        # in the lab's fw namespace (nsenter --net={lab.Fw.Path})");
            var r = lab.Fw.Exec([fwctl, "conntrack", lab.FwClientIf], null, TimeSpan.FromSeconds(60));
            output.WriteLine((r.Ok ? r.Stdout : r.Stderr).TrimEnd());
            output.WriteLine();
        }
    }

    private void Check(bool ok, string line)
    {
        _checks++;
        if (!ok)
            _failed++;
        output.WriteLine($"  {(ok ? "ok  " : "FAIL")} {line}");
    }
}

/// <summary>Packets per rule name (and "default", "malformed"), and flows inserted, read from the interface's pins.</summary>
internal sealed record Counters(Dictionary<string, ulong> Rules, ulong Flows)
{
    public static Counters Read(string iface)
    {
        var snap = StatsSnapshot.Read(iface);
        var d = snap.Rules.ToDictionary(r => r.Name, r => r.Counter.Total.Packets);
        d["default"] = snap.Default.Total.Packets;
        d["malformed"] = snap.Malformed.Total.Packets;
        return new Counters(d, snap.ConntrackInserts.Total.Packets);
    }
}
