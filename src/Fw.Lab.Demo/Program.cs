using System.Net;
using System.Runtime.InteropServices;
using Fw.Kernel;
using Fw.Packets;

namespace Fw.Lab.Demo;

/// <summary>
/// fw-demo [--fwctl PATH] [--rules FILE]: builds a lab (see <see cref="Lab"/>), attaches the rules to fw0 with
/// the real fwctl inside the lab's fw namespace, sends allowed and blocked traffic through it and says what
/// happened to each, shows <c>fwctl stats</c>, detaches and removes the lab, also on failure and Ctrl-C.
/// Exit codes: 0 everything went as the rules say, 1 otherwise, 2 usage.
/// </summary>
public static class Program
{
    public static int Main(string[] args)
    {
        string? fwctl = null, rules = null;
        for (int i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--fwctl" when i + 1 < args.Length:
                    fwctl = args[++i];
                    break;
                case "--rules" when i + 1 < args.Length:
                    rules = args[++i];
                    break;
                default:
                    Console.Error.WriteLine("usage: fw-demo [--fwctl PATH] [--rules FILE]");
                    return 2;
            }
        }
        string root = RepoRoot();
        fwctl ??= Path.Combine(root, "src/fwctl/bin/Release/net10.0/fwctl");
        rules ??= Path.Combine(root, "rules/rules.yaml");
        if (!File.Exists(fwctl))
        {
            Console.Error.WriteLine($"fw demo: {fwctl} not found; build first (dotnet build firewall.sln -c Release)");
            return 1;
        }
        return new Demo(fwctl, rules, Console.Out).Run();
    }

    private static string RepoRoot()
    {
        for (var d = new DirectoryInfo(AppContext.BaseDirectory); d is not null; d = d.Parent)
        {
            if (File.Exists(Path.Combine(d.FullName, "firewall.sln")))
                return d.FullName;
        }
        return Directory.GetCurrentDirectory();
    }
}

/// <summary>One kind of traffic: what it is, what the rules should do to it, and how to send it.</summary>
/// <param name="Counter">The counter the firewall should count it in: a rule's name, "default" or "malformed".</param>
/// <param name="Send">Sends it and says whether it arrived.</param>
internal sealed record Scenario(string Proto, string Flow, string What, bool ShouldArrive, string Counter, Func<Outcome> Send);

internal sealed record Outcome(bool Arrived, string Detail);

internal sealed class Demo(string fwctl, string rules, TextWriter output)
{
    private static readonly TimeSpan ArriveWithin = TimeSpan.FromSeconds(2);
    private static readonly TimeSpan DropWait = TimeSpan.FromSeconds(1);
    private volatile bool _stop;

    public int Run()
    {
        using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, Interrupt);
        using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Interrupt);
        using var sighup = PosixSignalRegistration.Create(PosixSignal.SIGHUP, Interrupt);
        Lab? lab = null;
        bool attached = false;
        Lab.InterfacesDeleted += Leftovers.Remove;   // fw's pins of the lab's interfaces go with them
        try
        {
            lab = new Lab();
            Topology(lab);
            if (_stop)
                return 1;

            var attach = Fwctl(lab, "attach", lab.FwClientIf, "--rules", rules);
            if (!attach.Ok)
                return 1;
            attached = true;

            output.WriteLine($"Traffic from the client through fw0 to the server ({Path.GetFileName(rules)} decides; the counter is fw's own):");
            output.WriteLine($"       {"proto",-6} {"flow",-47} {"what",-26} {"result",-7} {"counted in",-20} detail");
            int good = 0, played = 0;
            foreach (var s in Scenarios(lab))
            {
                if (_stop)
                    break;
                played++;
                if (Play(lab, s))
                    good++;
            }
            output.WriteLine(_stop
                ? $"interrupted after {played} of {Scenarios(lab).Count()}."
                : $"{good} of {played} as the rules say.");
            output.WriteLine();

            Fwctl(lab, "stats", lab.FwClientIf);
            attached = !Fwctl(lab, "detach", lab.FwClientIf).Ok;
            return good == played && !_stop ? 0 : 1;
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
            Console.Error.WriteLine($"fw demo: fwctl exited with {r.ExitCode}");
        output.WriteLine();
        return r;
    }

    /// <summary>Sends one scenario and prints one line: verdict, the counter fw counted it in, what arrived.</summary>
    private bool Play(Lab lab, Scenario s)
    {
        var before = Counters(lab.FwClientIf);
        var outcome = s.Send();
        Thread.Sleep(50);   // the last ACKs of a finished exchange are counted before the next one starts
        var after = Counters(lab.FwClientIf);
        var moved = after.Where(kv => kv.Value > before.GetValueOrDefault(kv.Key)).OrderByDescending(kv => kv.Value - before.GetValueOrDefault(kv.Key))
            .Select(kv => kv.Key).ToList();
        bool counted = moved.Contains(s.Counter);
        bool ok = outcome.Arrived == s.ShouldArrive && counted;
        string verdict = outcome.Arrived ? "arrived" : "blocked";
        string counter = counted ? s.Counter : moved.Count > 0 ? string.Join(",", moved) : "no counter moved";
        output.WriteLine($"  {(ok ? "ok  " : "FAIL")} {s.Proto,-6} {s.Flow,-47} {s.What,-26} {verdict} {counter,-20} {outcome.Detail}");
        return ok;
    }

    /// <summary>Packets per rule name, and the default and malformed counters, read from the interface's pins.</summary>
    private static Dictionary<string, ulong> Counters(string iface)
    {
        var snap = StatsSnapshot.Read(iface);
        var d = snap.Rules.ToDictionary(r => r.Name, r => r.Counter.Total.Packets);
        d["default"] = snap.Default.Total.Packets;
        d["malformed"] = snap.Malformed.Total.Packets;
        return d;
    }

    private static IEnumerable<Scenario> Scenarios(Lab lab)
    {
        IPAddress c4 = LabNet.ClientV4, c6 = LabNet.ClientV6, o4 = LabNet.ClientOtherV4, o6 = LabNet.ClientOtherV6;
        IPAddress s4 = LabNet.ServerV4, s6 = LabNet.ServerV6;

        Scenario Tcp(IPAddress src, IPAddress dst, int port, string what, bool arrive, string counter) =>
            new("tcp", $"{src} -> {Ep(dst, port)}", what, arrive, counter, () =>
            {
                var r = lab.Tcp(src, dst, port, timeout: arrive ? ArriveWithin : DropWait);
                return new Outcome(r.Delivered, r.Delivered ? $"connected, {r.Echoed.Length} bytes echoed"
                    : r.Connected ? r.ToString() : $"no connection ({r.Error})");
            });

        Scenario Udp(IPAddress src, int sport, IPAddress dst, int dport, string what, bool arrive, string counter) =>
            new("udp", $"{Ep(src, sport)} -> {Ep(dst, dport)}", what, arrive, counter, () =>
            {
                var r = lab.Udp(src, sport, dst, dport, timeout: arrive ? ArriveWithin : DropWait);
                return new Outcome(r.Delivered, r.Arrived ? $"{r.Received.Length}-byte datagram received" : $"nothing received in {r.Took.TotalSeconds:0.0} s");
            });

        Scenario Ping(IPAddress src, IPAddress dst, string what) =>
            new(src.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork ? "icmp" : "icmpv6", $"{src} -> {dst}", what, true, "default", () =>
            {
                var r = lab.Ping(src, dst, ArriveWithin);
                return new Outcome(r.Replied, r.Replied ? $"echo reply in {r.Took.TotalMilliseconds:0.0} ms" : "no echo reply");
            });

        // Crafted frames leave c0 through an AF_PACKET socket; a capture on s0 says whether fw0 let them through.
        Scenario Crafted(string proto, string flow, Frame frame, Func<ParsedFrame, bool> match, string what, bool arrive, string counter) =>
            new(proto, flow, what, arrive, counter, () =>
            {
                using var cap = lab.CaptureServer();
                lab.SendFromClient(Lab.FromClient(frame));
                var got = cap.WaitFor(f => match(f.Parsed), arrive ? ArriveWithin : DropWait / 2);
                return new Outcome(got is not null, got is not null ? "captured on s0" : $"not on s0 in {(DropWait / 2).TotalSeconds:0.0} s");
            });

        yield return Tcp(c4, s4, 22, "ssh from the admin range", true, "ssh-from-admin");
        yield return Tcp(o4, s4, 22, "ssh from outside it", false, "drop-other-ssh");
        yield return Tcp(c6, s6, 22, "ssh from the admin range", true, "ssh-from-admin");
        yield return Tcp(o6, s6, 22, "ssh from outside it", false, "drop-other-ssh");
        yield return Tcp(c6, s6, 23, "telnet to the server (v6)", false, "drop-telnet-v6");
        yield return Tcp(c4, s4, 23, "telnet over IPv4: no rule", true, "default");
        yield return Udp(c4, 40000, s4, 53, "dns query", true, "default");
        yield return Udp(c6, 40000, s6, 53, "dns query", true, "default");
        yield return Udp(c4, 123, s4, 40123, "from ntp (amplifier)", false, "drop-udp-amplifiers");
        yield return Udp(c6, 1900, s6, 41900, "from ssdp (amplifier)", false, "drop-udp-amplifiers");
        yield return Ping(c4, s4, "ping");
        yield return Ping(c6, s6, "ping");
        yield return Crafted("icmp", $"{c4} -> {s4}", Frame.Icmp(c4, s4, 13).WithPayload(12),
            f => f.Icmp is { V6: false, Type: 13 }, "timestamp request", false, "drop-icmp-timestamp");
        yield return Crafted("tcp", $"{c4}:40080 -> {s4}:80", Frame.Tcp(c4, s4, 40080, 80, TcpFlags.Syn),
            f => f.Tcp?.SrcPort == 40080, "syn to a web port", true, "default");
        yield return Crafted("tcp", $"{c4}:40081 -> {s4}:80", Frame.Tcp(c4, s4, 40081, 80, TcpFlags.Fin | TcpFlags.Psh | TcpFlags.Urg),
            f => f.Tcp?.SrcPort == 40081, "xmas scan: fin,psh,urg", false, "drop-xmas-scan");
        yield return Crafted("tcp", $"198.19.66.7:40082 -> {s4}:80", Frame.Tcp("198.19.66.7", s4.ToString(), 40082, 80),
            f => f.Tcp?.SrcPort == 40082, "source in @blocklist", false, "drop-blocklisted");
        yield return Crafted("udp", $"[2001:db8:dead::7]:40083 -> {Ep(s6, 53)}", Frame.Udp("2001:db8:dead::7", s6.ToString(), 40083, 53),
            f => f.Udp?.SrcPort == 40083, "source in @feed", false, "drop-blocklisted");
        yield return Crafted("tcp", $"{c4}:40084 -> {s4}:80", Frame.Tcp(c4, s4, 40084, 80).Truncated(14 + 20 + 10),
            f => f.Ipv4?.Src.Equals(c4) == true && f.Ipv4.Id == 1 && f.Length < 60, "tcp header cut short", false, "malformed");
    }

    private static string Ep(IPAddress a, int port) =>
        a.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 ? $"[{a}]:{port}" : $"{a}:{port}";
}
