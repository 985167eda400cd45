using System.Diagnostics;
using Fw.Kernel;
using Fw.Bpf;

namespace Fw.Tests.Kernel;

/// <summary>
/// A veth pair for attach-level tests that send no traffic (BPF_PROG_TEST_RUN only): no addresses,
/// no routes, IPv6 disabled (no ND/MLD chatter), so nothing can leave and nothing arrives unasked. Names are unique per process and instance; Dispose detaches fw,
/// removes its pins and deletes the pair, and a new instance first removes a crashed run's leftovers.
/// </summary>
public sealed class TestVeth : IDisposable
{
    private static int s_next;

    /// <param name="mtu">Both ends' MTU; null: the kernel's default (1500). Over about 3,500 bytes a veth takes
    /// only XDP programs that handle multi-buffer frames (SEC("xdp.frags")) in native mode.</param>
    public TestVeth(int? mtu = null)
    {
        RemoveLeftovers();
        int n = Interlocked.Increment(ref s_next);
        Name = $"fwt{Environment.ProcessId}x{n}";   // at most 15 bytes with the peer's "p"
        Peer = Name + "p";
        Ip("link", "add", Name, "type", "veth", "peer", "name", Peer);
        try
        {
            if (mtu is int m)
            {
                Ip("link", "set", Name, "mtu", m.ToString());
                Ip("link", "set", Peer, "mtu", m.ToString());
            }
            // No IPv6 on the pair: the kernel's own ND/MLD chatter would move the counters under test.
            foreach (string dev in new[] { Name, Peer })
                File.WriteAllText($"/proc/sys/net/ipv6/conf/{dev}/disable_ipv6", "1");
            Ip("link", "set", Name, "up");
            Ip("link", "set", Peer, "up");
        }
        catch
        {
            Ip("link", "del", Name);   // a constructor that throws is never disposed
            throw;
        }
    }

    /// <summary>The end fw attaches to.</summary>
    public string Name { get; }
    public string Peer { get; }

    public void Dispose()
    {
        if (Directory.Exists(PinLayout.Dir(Name)))
        {
            try
            {
                Firewall.Detach(Name);
            }
            catch (BpfException)
            {
                PinLayout.RemoveTree(PinLayout.Dir(Name));
            }
        }
        PinLayout.RemoveRootIfEmpty();
        Ip("link", "del", Name);
        File.Delete(Path.Combine(PinLayout.LockDir, Name + ".lock"));   // a unique name: nobody shares it
        File.Delete(PacketLog.ReaderLockPath(Name));
    }

    /// <summary>Pairs (and pins) of runs whose process is gone (a concurrent run's are left alone).</summary>
    private static void RemoveLeftovers()
    {
        foreach (string dev in Directory.GetDirectories("/sys/class/net").Select(Path.GetFileName).OfType<string>())
        {
            var m = System.Text.RegularExpressions.Regex.Match(dev, @"^fwt(\d+)x\d+$");
            if (!m.Success || Directory.Exists($"/proc/{m.Groups[1].Value}"))
                continue;
            if (Directory.Exists(PinLayout.Dir(dev)))
                PinLayout.RemoveTree(PinLayout.Dir(dev));
            Ip("link", "del", dev);
        }
    }

    public static string Ip(params string[] args) => Run("ip", args);

    /// <summary>tc with these arguments: its output; a failure throws.</summary>
    public static string Tc(params string[] args) => Run("tc", args);

    private static string Run(string tool, string[] args)
    {
        var p = Process.Start(new ProcessStartInfo(tool, args) { RedirectStandardOutput = true, RedirectStandardError = true })!;
        string output = p.StandardOutput.ReadToEnd();
        string err = p.StandardError.ReadToEnd();
        p.WaitForExit();
        if (p.ExitCode != 0 && !(args is ["link", "del", ..] && err.Contains("Cannot find device")))
            throw new InvalidOperationException($"{tool} {string.Join(' ', args)}: {err.Trim()}");
        return output;
    }
}
