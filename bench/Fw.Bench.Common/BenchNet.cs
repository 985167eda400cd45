using System.Text.Json;
using System.Text.RegularExpressions;
using Fw.Kernel;
using Fw.Lab;

namespace Fw.Bench;

/// <summary>
/// The benchmark's network: one namespace <c>fwb&lt;pid&gt;x&lt;n&gt;</c> holding one veth pair, the generator's
/// end <c>...g</c> and the system under test's end <c>...s</c> (unique names: fw pins by interface name), each
/// with one queue per CPU so every generator thread feeds its own receive queue, whose NAPI runs on that CPU.
/// No addresses, no routes, IPv6 off (no ND/MLD chatter). Dispose removes everything, also what a system under
/// test left attached; the constructor first removes what runs of dead processes left behind.
/// </summary>
public sealed partial class BenchNet : IDisposable
{
    public const string Prefix = "fwb";
    private static int s_next;
    private bool _disposed;

    public BenchNet(int queues)
    {
        RemoveLeftovers();
        Id = $"{Prefix}{Environment.ProcessId}x{Interlocked.Increment(ref s_next)}";
        Ns = new Netns(Id);
        GenIf = Id + "g";
        SutIf = Id + "s";
        Queues = queues;
        try
        {
            Command.Run("ip", "netns", "add", Id).Check();
            Ns.Run(() =>
            {
                File.WriteAllText("/proc/sys/net/ipv6/conf/default/disable_ipv6", "1");
                File.WriteAllText("/proc/sys/net/ipv6/conf/all/disable_ipv6", "1");
            });
            string q = $"{queues}";
            Ns.Exec("ip", "link", "add", GenIf, "numtxqueues", q, "numrxqueues", q, "type", "veth",
                "peer", "name", SutIf, "numtxqueues", q, "numrxqueues", q).Check();
            Ns.IpBatch(["link set lo up", $"link set {GenIf} up", $"link set {SutIf} up"]);
            GenIfindex = Ns.Ifindex(GenIf);
            SutIfindex = Ns.Ifindex(SutIf);
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    public string Id { get; }
    public Netns Ns { get; }
    public string GenIf { get; }
    public string SutIf { get; }
    public int GenIfindex { get; }
    public int SutIfindex { get; }
    public int Queues { get; }

    /// <summary>Runs code inside the namespace (a thread that entered it), e.g. Firewall.Attach or Reload: up to
    /// 5 minutes, as a million prefixes take long on a loaded machine.</summary>
    public T Run<T>(Func<T> body) => Ns.Run(body, TimeSpan.FromMinutes(5));

    /// <summary>Frames the system under test's end has received (XDP included: veth counts them in rx_packets).</summary>
    public ulong RxPackets(string? dev = null)
    {
        var r = Ns.Exec("ip", "-j", "-s", "link", "show", "dev", dev ?? SutIf).Check();
        using var doc = JsonDocument.Parse(r.Stdout);
        return doc.RootElement[0].GetProperty("stats64").GetProperty("rx").GetProperty("packets").GetUInt64();
    }

    /// <summary>Whatever XDP program runs on the system under test's end is removed (any kind, any owner).</summary>
    public void DetachAnyXdp()
    {
        if (Directory.Exists(PinLayout.Dir(SutIf)))
            Ns.Run(() => Firewall.Detach(SutIf));
        Ns.Exec("ip", "link", "set", "dev", SutIf, "xdp", "off").Check();
    }

    /// <summary>
    /// The clsact qdisc of the system under test's end, if any (fw's detach removes its egress filter, not the
    /// qdisc the filter needed); none there is fine.
    /// </summary>
    public void RemoveClsact()
    {
        var shown = Ns.Exec("tc", "qdisc", "show", "dev", SutIf, "clsact").Check();
        if (shown.Stdout.Contains("clsact"))
            Ns.Exec("tc", "qdisc", "del", "dev", SutIf, "clsact").Check();
    }

    public void Dispose()
    {
        if (_disposed)
            return;
        _disposed = true;
        var problems = new List<string>();
        Try(problems, () =>
        {
            if (Directory.Exists(PinLayout.Dir(SutIf)))
                Ns.Run(() => Firewall.Detach(SutIf));
        });
        if (Ns.Exists)
        {
            Try(problems, () => DeleteLink(Ns, GenIf));
            Try(problems, () => Command.Run("ip", "netns", "del", Id).Check());
        }
        Try(problems, () => RemovePins(SutIf));
        foreach (string p in problems)
            Console.Error.WriteLine($"bench net {Id}: cleanup: {p}");
    }

    /// <summary>Namespaces (and fw pins, lock files) of runs whose process is gone; a live run's are left alone.</summary>
    public static void RemoveLeftovers()
    {
        var problems = new List<string>();
        if (Directory.Exists("/run/netns"))
        {
            foreach (string name in Directory.GetFiles("/run/netns").Select(Path.GetFileName).OfType<string>())
            {
                var m = NsName().Match(name);
                if (!m.Success || int.Parse(m.Groups[1].Value) == Environment.ProcessId || Directory.Exists($"/proc/{m.Groups[1].Value}"))
                    continue;
                var ns = new Netns(name);
                Try(problems, () => DeleteLink(ns, name + "g"));
                Try(problems, () => Command.Run("ip", "netns", "del", name).Check());
                Console.Error.WriteLine($"bench: removed a dead run's namespace {name}");
            }
        }
        foreach (string dev in PinLayout.Interfaces())
        {
            var m = SutName().Match(dev);
            if (m.Success && !Directory.Exists($"/proc/{m.Groups[1].Value}"))
                Try(problems, () => RemovePins(dev));
        }
        foreach (string p in problems)
            Console.Error.WriteLine($"bench: removing leftovers: {p}");
    }

    /// <summary>fw's pins and lock file of a benchmark interface (a unique name nobody else uses).</summary>
    private static void RemovePins(string dev)
    {
        if (Directory.Exists(PinLayout.Dir(dev)))
            PinLayout.RemoveTree(PinLayout.Dir(dev));
        PinLayout.RemoveRootIfEmpty();
        File.Delete(Path.Combine(PinLayout.LockDir, dev + ".lock"));
    }

    private static void DeleteLink(Netns ns, string dev)
    {
        var r = ns.Exec("ip", "link", "del", dev);
        if (!r.Ok && !r.Stderr.Contains("Cannot find device"))
            r.Check();
    }

    private static void Try(List<string> problems, Action step)
    {
        try
        {
            step();
        }
        catch (Exception e)
        {
            problems.Add(e.Message);
        }
    }

    [GeneratedRegex(@"^fwb(\d+)x\d+$")]
    private static partial Regex NsName();

    [GeneratedRegex(@"^fwb(\d+)x\d+s$")]
    private static partial Regex SutName();
}
