using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text.RegularExpressions;
using Fw.Kernel;
using Fw.Lab;

namespace Fw.Bench.Throughput;

/// <summary>
/// A system under test on the bench's receiving end: started before a measurement and stopped after, so the
/// next one finds the interface bare. <see cref="Counted"/> is the system's own count of the frames it handled
/// as the mix expects (null: it has none), which the benchmark compares with the interface's receive counter.
/// </summary>
public abstract class Sut : IDisposable
{
    public abstract string Name { get; }

    public abstract void Start();

    public abstract void Stop();

    public virtual ulong? Counted(Mix mix) => null;

    public virtual void Dispose()
    {
    }
}

/// <summary>The limit: an XDP program that returns XDP_DROP and does nothing else (bench/bpf/xdp_drop.bpf.c).</summary>
public sealed class BareSut : Sut
{
    private readonly BenchNet _net;
    private readonly BpfObject _obj;

    public BareSut(BenchNet net)
    {
        _net = net;
        _obj = BpfObject.Open(CostGrid.BareObjectPath);
        _obj.Load();
    }

    public override string Name => "bare XDP_DROP";

    public override void Start()
    {
        int fd = _obj.ProgramFd("xdp_drop");
        _net.Ns.Run(() => XdpLinks.Attach(_net.SutIfindex, fd, XdpMode.Native, $"xdp_drop to {_net.SutIf}"));
    }

    public override void Stop() => _net.Ns.Exec("ip", "link", "set", "dev", _net.SutIf, "xdp", "off").Check();

    public override void Dispose() => _obj.Dispose();
}

/// <summary>fw itself, attached with Firewall.Attach (dispatcher and generation 1, native XDP), as fwctl attach does.</summary>
public sealed class FwSut(BenchNet net, RulesetCase c) : Sut
{
    public RulesetCase Case => c;

    public override string Name => c.DefaultDrop ? "fw" : "fw, default: pass";

    public override void Start() => net.Ns.Run(() => Firewall.Attach(net.SutIf, c.Check, c.Path, XdpMode.Native));

    public override void Stop() => net.Ns.Run(() => Firewall.Detach(net.SutIf));

    /// <summary>The counter of the rule the mix matches, or of the default.</summary>
    public override ulong? Counted(Mix mix)
    {
        var s = StatsSnapshot.Read(net.SutIf);
        return mix.Rule is int i ? s.Rules[i].Counter.Total.Packets : s.Default.Total.Packets;
    }
}

/// <summary>
/// xdp-filter (Debian xdp-tools) loaded with `xdp-filter load`; its filters are written straight into the maps
/// it pins under /sys/fs/bpf/xdp-filter, in the format its own `port` and `ip` commands write (one command per
/// filter takes 20-30 ms: 1,000 of them would take most of a run; tests/Fw.Tests/Bench compares both ways).
/// </summary>
public sealed class XdpFilterSut(BenchNet net, XdpFilterConfig cfg) : Sut
{
    public const string PinDir = "/sys/fs/bpf/xdp-filter";
    private const string OwnerFile = "/run/fw-bench/xdp-filter.pid";

    public XdpFilterConfig Config => cfg;

    public override string Name => "xdp-filter";

    public override void Start()
    {
        ClaimPins();
        net.Ns.Exec(cfg.Commands(net.SutIf).First()).Check();
        XdpFilterMaps.Write(cfg);
    }

    public override void Stop()
    {
        net.Ns.Exec("xdp-filter", "unload", net.SutIf).Check();
        File.Delete(OwnerFile);
    }

    /// <summary>Frames xdp-filter dropped (its xdp_stats_map, XDP_DROP).</summary>
    public override ulong? Counted(Mix mix)
    {
        using var stats = BpfMap.OpenPinned($"{PinDir}/xdp_stats_map");
        return (ulong)stats.LookupPerCpu<uint, DataRec>(1 /* XDP_DROP */).Sum(d => (long)d.Packets);
    }

    /// <summary>
    /// xdp-filter's pins are global: take them only when nobody holds them, or when a dead benchmark run left
    /// them (its pid in /run/fw-bench/xdp-filter.pid); otherwise refuse rather than disturb another user.
    /// </summary>
    private static void ClaimPins()
    {
        if (Directory.Exists(PinDir))
        {
            string owner = File.Exists(OwnerFile) ? File.ReadAllText(OwnerFile).Trim() : "";
            if (owner.Length == 0 || Directory.Exists($"/proc/{owner}"))
                throw new InvalidOperationException($"{PinDir} exists: xdp-filter is loaded somewhere else; the benchmark leaves it alone");
            Directory.Delete(PinDir, recursive: true);
        }
        Directory.CreateDirectory(Path.GetDirectoryName(OwnerFile)!);
        File.WriteAllText(OwnerFile, $"{Environment.ProcessId}\n");
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct DataRec
    {
        public ulong Packets;
        public ulong Bytes;
    }
}

/// <summary>Writes xdp-filter's filter maps (xdp-filter/common_kern_user.h: flags per port or address, on every CPU).</summary>
public static class XdpFilterMaps
{
    public const ulong FlagSrc = 1, FlagDst = 2, FlagTcp = 4, FlagUdp = 8;

    public static void Write(XdpFilterConfig cfg, string dir = XdpFilterSut.PinDir)
    {
        int cpus = BpfMap.PossibleCpus;
        var ports = new Dictionary<uint, ulong>();
        foreach (var p in cfg.Ports)
        {
            uint key = (uint)(p.Port >> 8 | (p.Port & 0xff) << 8);   // the port in network byte order
            ports[key] = ports.GetValueOrDefault(key) | (p.Source ? FlagSrc : FlagDst) | (p.Tcp ? FlagTcp : 0) | (p.Udp ? FlagUdp : 0);
        }
        if (ports.Count > 0)
        {
            using var m = BpfMap.OpenPinned($"{dir}/filter_ports");
            foreach (var (k, v) in ports)
                m.UpdatePerCpu(k, Enumerable.Repeat(v, cpus).ToArray().AsSpan());
        }
        var v4 = cfg.Addresses.Where(a => a.Address.AddressFamily == AddressFamily.InterNetwork).ToList();
        if (v4.Count > 0)
        {
            using var m = BpfMap.OpenPinned($"{dir}/filter_ipv4");
            foreach (var g in v4.GroupBy(a => a.Address))
                m.UpdatePerCpu(BitConverter.ToUInt32(g.Key.GetAddressBytes()), Enumerable.Repeat(Flags(g), cpus).ToArray().AsSpan());
        }
        var v6 = cfg.Addresses.Where(a => a.Address.AddressFamily == AddressFamily.InterNetworkV6).ToList();
        if (v6.Count > 0)
        {
            using var m = BpfMap.OpenPinned($"{dir}/filter_ipv6");
            foreach (var g in v6.GroupBy(a => a.Address))
                m.UpdatePerCpu(new In6(g.Key.GetAddressBytes()), Enumerable.Repeat(Flags(g), cpus).ToArray().AsSpan());
        }
    }

    private static ulong Flags(IEnumerable<AddressFilter> fs) => fs.Aggregate(0UL, (f, a) => f | (a.Source ? FlagSrc : FlagDst));

    [StructLayout(LayoutKind.Sequential)]
    private unsafe struct In6
    {
        private fixed byte _b[16];

        public In6(byte[] b)
        {
            for (int i = 0; i < 16; i++)
                _b[i] = b[i];
        }
    }
}

/// <summary>
/// nftables on the netdev ingress hook of the receiving end, in one form. The table (sets included) is loaded
/// once (<see cref="NftTable"/>); a start makes the base chain run this form and attaches the lab's XDP pass
/// program (a veth takes XDP frames only with a program attached; it passes them on as skbs, which is where
/// nft sees them).
/// </summary>
public sealed class NftSut(BenchNet net, NftTable table, NftForm form, BpfObject pass) : Sut
{
    public override string Name => form == NftForm.Plain ? "nft plain chain" : "nft sets (best form)";

    public NftForm Form => form;

    public override void Start()
    {
        int fd = pass.ProgramFd(Lab.Lab.PassProgram);
        net.Ns.Run(() => XdpLinks.Attach(net.SutIfindex, fd, XdpMode.Native, $"{Lab.Lab.PassProgram} to {net.SutIf}"));
        table.Run(table.Ruleset.Activate(form));
    }

    public override void Stop()
    {
        table.Run(table.Ruleset.Deactivate());
        net.Ns.Exec("ip", "link", "set", "dev", net.SutIf, "xdp", "off").Check();
    }

    /// <summary>Every counter of the table: each frame ends at exactly one counting rule (a match or the default).</summary>
    public override ulong? Counted(Mix mix) => table.CounterTotal();
}

/// <summary>The nft table of the bench namespace: loaded once, removed with the namespace.</summary>
public sealed partial class NftTable(BenchNet net, NftRuleset ruleset)
{
    public NftRuleset Ruleset => ruleset;

    public void Load() => Run(ruleset.TableScript());

    public void Run(string script) => net.Ns.Exec(["nft", "-f", "-"], script, TimeSpan.FromMinutes(5)).Check();

    public ulong CounterTotal()
    {
        // Only the rules' counters: the sets are listed too (and large), so list the chains.
        ulong total = 0;
        foreach (string chain in new[] { "ingress", "fw_best4", "fw_best6" })
        {
            string text = net.Ns.Exec("nft", "list", "chain", "netdev", ruleset.Table, chain).Check().Stdout;
            foreach (Match m in CounterRe().Matches(text))
                total += ulong.Parse(m.Groups[1].Value);
        }
        return total;
    }

    [GeneratedRegex(@"counter packets (\d+) bytes")]
    private static partial Regex CounterRe();
}
