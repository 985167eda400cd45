using System.Text.RegularExpressions;
using Fw.Kernel;
using Fw.Lab;

namespace Fw.Bench.ControlPlane;

/// <summary>
/// A network namespace of its own holding one veth pair (no addresses, IPv6 off, so nothing is sent or
/// received), for attach and reload figures: nothing of it is in the host's namespace. Names are unique per
/// process and instance (<c>fwcp&lt;pid&gt;x&lt;n&gt;</c>, interface <c>fwc&lt;pid&gt;x&lt;n&gt;</c>); Dispose
/// detaches fw, removes its pins and the namespace, and a new instance first removes what a crashed run left.
/// </summary>
internal sealed partial class BenchNet : IDisposable
{
    private static int s_next;

    public BenchNet()
    {
        RemoveLeftovers();
        int n = Interlocked.Increment(ref s_next);
        Iface = $"fwc{Environment.ProcessId}x{n}";
        Ns = new Netns($"fwcp{Environment.ProcessId}x{n}");
        try
        {
            Command.Run("ip", "netns", "add", Ns.Name).Check();
            Ns.Run(() => File.WriteAllText("/proc/sys/net/ipv6/conf/default/disable_ipv6", "1"));
            Command.Run("ip", "link", "add", Iface, "netns", Ns.Name, "type", "veth", "peer", "name", Iface + "p", "netns", Ns.Name).Check();
            Ns.IpBatch([$"link set {Iface} up", $"link set {Iface}p up"]);
        }
        catch
        {
            Dispose();
            throw;
        }
    }

    public Netns Ns { get; }

    /// <summary>The end fw attaches to (inside <see cref="Ns"/>).</summary>
    public string Iface { get; }

    /// <summary>Runs code inside the namespace (a thread that entered it), e.g. Firewall.Attach.</summary>
    public T Run<T>(Func<T> body) => Ns.Run(body, TimeSpan.FromMinutes(5));

    public void Dispose()
    {
        if (Directory.Exists(PinLayout.Dir(Iface)))
        {
            try
            {
                Firewall.Detach(Iface);
            }
            catch (BpfException)
            {
                PinLayout.RemoveTree(PinLayout.Dir(Iface));
            }
        }
        PinLayout.RemoveRootIfEmpty();
        File.Delete(Path.Combine(PinLayout.LockDir, Iface + ".lock"));
        if (Ns.Exists)
            Command.Run("ip", "netns", "del", Ns.Name);
    }

    /// <summary>Namespaces, pins and lock files of runs whose process is gone (a concurrent run's are left alone).</summary>
    private static void RemoveLeftovers()
    {
        if (Directory.Exists("/run/netns"))
        {
            foreach (string name in Directory.GetFiles("/run/netns").Select(Path.GetFileName).OfType<string>())
            {
                if (Dead(BenchNamespace().Match(name)))
                    Command.Run("ip", "netns", "del", name);
            }
        }
        if (Directory.Exists(PinLayout.Root))
        {
            foreach (string dev in Directory.GetDirectories(PinLayout.Root).Select(Path.GetFileName).OfType<string>())
            {
                if (Dead(BenchIface().Match(dev)))
                {
                    PinLayout.RemoveTree(PinLayout.Dir(dev));
                    File.Delete(Path.Combine(PinLayout.LockDir, dev + ".lock"));
                }
            }
            PinLayout.RemoveRootIfEmpty();
        }
    }

    private static bool Dead(Match m) =>
        m.Success && int.TryParse(m.Groups[1].Value, out int pid) && pid != Environment.ProcessId && !Directory.Exists($"/proc/{pid}");

    [GeneratedRegex(@"^fwcp(\d+)x\d+$")]
    private static partial Regex BenchNamespace();

    [GeneratedRegex(@"^fwc(\d+)x\d+$")]
    private static partial Regex BenchIface();
}
