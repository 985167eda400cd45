using System.Net.Sockets;
using System.Runtime.InteropServices;
using System.Text.RegularExpressions;
using Fw.Kernel;
using Fw.Lab;
using Fw.Bpf;
using Fw.Control;

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

    /// <summary>Flows the system has put into its flow table so far (null: it keeps none).</summary>
    public virtual ulong? FlowsInserted() => null;

    /// <summary>fw's packet-log counters so far (records written, refused over the rate, refused for a full ring); null: no log.</summary>
    public virtual LogCounts? LogCounts() => null;

    /// <summary>fw's limit checks so far (within the rate, over it); null: no limit in the ruleset.</summary>
    public virtual LimitChecks? LimitChecks() => null;

    /// <summary>Whether the system runs an XDP program on the interface (whose BPF statistics are then read).</summary>
    public virtual bool HasXdpProgram => true;

    public virtual void Dispose()
    {
    }
}

/// <summary>A system that is one XDP program of its own object (bench/bpf/), attached natively for its measurements.</summary>
public abstract class ProgramSut : Sut
{
    private readonly BenchNet _net;
    private readonly string _program;

    /// <param name="configure">Settings of the object (its .rodata globals), before it is loaded.</param>
    protected ProgramSut(BenchNet net, string objectPath, string program, Action<BpfObject>? configure = null)
    {
        _net = net;
        _program = program;
        Object = BpfObject.Open(objectPath);
        configure?.Invoke(Object);
        Object.Load();
    }

    protected BpfObject Object { get; }

    public override void Start()
    {
        int fd = Object.ProgramFd(_program);
        _net.Ns.Run(() => XdpLinks.Attach(_net.SutIfindex, fd, XdpMode.Native, $"{_program} to {_net.SutIf}"));
    }

    public override void Stop() => _net.Ns.Exec("ip", "link", "set", "dev", _net.SutIf, "xdp", "off").Check();

    public override void Dispose() => Object.Dispose();
}

/// <summary>The limit: an XDP program that returns XDP_DROP and does nothing else (bench/bpf/xdp_drop.bpf.c).</summary>
public sealed class BareSut(BenchNet net) : ProgramSut(net, CostGrid.BareObjectPath, "xdp_drop")
{
    public override string Name => "bare XDP_DROP";
}

/// <summary>
/// The floor: the least a classifier can do (bench/bpf/floor.bpf.c): parse Ethernet, IPv4 or IPv6 and the TCP or UDP
/// ports, look the destination port up in an array of 65,536 verdicts (none written: every port drops), count the
/// verdict in a per-CPU counter. Measured beside bare XDP_DROP as a reference for what any classifier adds.
/// With <paramref name="steps"/> below <see cref="AllSteps"/>, the floor cut short (floor_steps): what its first
/// steps cost alone under the same traffic.
/// </summary>
public sealed class FloorSut(BenchNet net, int steps = FloorSut.AllSteps)
    : ProgramSut(net, CostGrid.FloorObjectPath, "xdp_floor", obj => obj.SetGlobal("floor_steps", (uint)steps))
{
    public const int AllSteps = 4;
    public const string FloorName = "floor (parse + 1 array lookup + 1 per-CPU counter)";

    /// <summary>The row of the floor cut after <paramref name="steps"/> (floor.bpf.c's floor_steps).</summary>
    public static string StepName(int steps) => steps switch
    {
        1 => "floor, step 1: read the EtherType (the frame's first touch)",
        2 => "floor, step 2: parse to the ports",
        3 => "floor, step 3: parse + the port's array lookup",
        _ => FloorName,
    };

    /// <summary>floor_counts' slot of the frames parsed and dropped (enum floor_slot's FLOOR_SLOT_DROP).</summary>
    private const uint DropSlot = 0;

    public override string Name => StepName(steps);

    /// <summary>Frames the floor parsed and dropped (every frame of the bench's mixes: TCP over IPv4 or IPv6); a floor cut short counts none.</summary>
    public override ulong? Counted(Mix mix) => steps < AllSteps ? null :
        Object.Map("floor_counts").LookupPerCpu<uint, ulong>(DropSlot).Aggregate(0UL, (a, b) => a + b);
}

/// <summary>
/// fw itself, attached with Firewall.Attach (dispatcher and generation 1, native XDP), as fwctl attach does;
/// with <paramref name="build"/>, another build's classifier object (--fw-object), to compare builds in one run.
/// A stateful case ("fw + state") also has fw's flow table and its TC egress program on the interface while
/// attached; <see cref="Stop"/> removes the clsact qdisc fw's detach leaves, so the next system finds the
/// interface as bare as before (an empty clsact still turns on the ingress hook's checks).
/// </summary>
/// A packet-log case ("fw + log", a logged rule the traffic matches) has a reader draining the log's ring on a
/// background thread while attached (Fw.Kernel.PacketLog, as fwctl log reads it), so the records are really written.
/// A live set + limit case ("fw + live set + limit", or "fw + live set" alone) has its live set filled after every attach with
/// <see cref="Synthetic.LiveSetEntries"/> (entries without expiry, written as fwctl set add writes them, one map update
/// each), since the detach removes the set with every other pin.
public sealed class FwSut(BenchNet net, RulesetCase c, FwBuild? build = null) : Sut
{
    public const string StatefulName = "fw + state";
    public const string LoggedName = "fw + log";
    public const string LogElsewhereName = "fw + log elsewhere";
    public const string LiveLimitName = "fw + live set + limit", LiveSetName = "fw + live set", LimitName = "fw + limit";

    private Thread? _reader;
    private volatile bool _stopReader;

    public RulesetCase Case => c;

    public override string Name => build is null ? OwnName : c.Live != BenchLive.None ? $"{OwnName} ({build.Label})" : $"fw ({build.Label})";

    private string OwnName => c.Stateful ? StatefulName
        : c.Log == BenchLog.Matching ? LoggedName : c.Log == BenchLog.Elsewhere ? LogElsewhereName
        : c.Live == BenchLive.SetAndLimit ? LiveLimitName : c.Live == BenchLive.Set ? LiveSetName : c.Live == BenchLive.Limit ? LimitName
        : c.DefaultDrop ? "fw" : "fw, default: pass";

    public override void Start()
    {
        net.Ns.Run(() => Deployment.Attach(net.SutIf, c.Check, XdpMode.Native, build?.ObjectPath));
        if (c.HasLiveSet)
            net.Ns.Run(FillLiveSet);
        if (c.Log != BenchLog.Matching)
            return;
        var log = PacketLog.Open(net.SutIf);   // before any traffic: the first records find their reader
        _stopReader = false;
        _reader = new Thread(() =>
        {
            using (log)
            {
                while (!_stopReader)
                    log.Read(PacketLog.PollInterval, _ => { });
            }
        }) { IsBackground = true, Name = "packet log reader" };
        _reader.Start();
    }

    public override void Stop()
    {
        if (_reader is not null)
        {
            _stopReader = true;
            _reader.Join();
            _reader = null;
            File.Delete(PacketLog.ReaderLockPath(net.SutIf));   // the reader's lock file: leave nothing behind
        }
        net.Ns.Run(() => Firewall.Detach(net.SutIf));
        if (c.Stateful)
            net.RemoveClsact();
    }

    /// <summary>Puts <see cref="Synthetic.LiveSetFill"/> entries the traffic never hits into the attached live set.</summary>
    private void FillLiveSet()
    {
        using var set = LiveSetMap.OpenPinned(net.SutIf, Synthetic.LiveSetName);
        int n = 0;
        foreach (var p in Synthetic.LiveSetEntries())
        {
            if (!set.Put(p, 0, KernelClock.CoarseNs()))
                throw new InvalidOperationException($"live set {Synthetic.LiveSetName} of {net.SutIf} refused {p} after {n:N0} entries (max {set.Max:N0})");
            n++;
        }
        int count = set.Entries.Keys<FwSetKey>(set.Max + 1).Count;
        if (count != Synthetic.LiveSetFill)
            throw new InvalidOperationException($"live set {Synthetic.LiveSetName} of {net.SutIf} has {count:N0} entries after {n:N0} were put");
    }

    /// <summary>The counter of the rule the mix matches, or of the default.</summary>
    public override ulong? Counted(Mix mix)
    {
        var s = StatsSnapshot.Read(net.SutIf);
        return mix.Rule is int i ? s.Rules[i].Counter.Total.Packets : s.Default.Total.Packets;
    }

    public override LogCounts? LogCounts()
    {
        if (c.Log == BenchLog.None)
            return null;
        var s = StatsSnapshot.Read(net.SutIf);
        return new LogCounts(s.LogRecords.Total.Packets, s.LogOverRate.Total.Packets, s.LogBufferFull.Total.Packets);
    }

    public override LimitChecks? LimitChecks()
    {
        if (!c.HasLimit)
            return null;
        var s = StatsSnapshot.Read(net.SutIf);
        return new LimitChecks(s.LimitUnder.Total.Packets, s.LimitOver.Total.Packets);
    }

    public override ulong? FlowsInserted() => c.Stateful ? StatsSnapshot.Read(net.SutIf).ConntrackInserts.Total.Packets : null;
}

/// <summary>
/// xdp-filter (Debian xdp-tools) loaded with `xdp-filter load`; its filters are written straight into the maps
/// it pins under /sys/fs/bpf/xdp-filter, in the format its own `port` and `ip` commands write (one command per
/// filter takes 20-30 ms: 1,000 of them would take most of a run; tests/Fw.Tests/Bench compares both ways).
/// </summary>
public sealed class XdpFilterSut(BenchNet net, XdpFilterConfig cfg) : Sut
{
    public XdpFilterConfig Config => cfg;

    public override string Name => "xdp-filter";

    public override void Start()
    {
        XdpFilterMaps.ClaimPins();
        net.Ns.Exec(cfg.Commands(net.SutIf).First()).Check();
        XdpFilterMaps.Write(cfg);
    }

    public override void Stop()
    {
        net.Ns.Exec("xdp-filter", "unload", net.SutIf).Check();
        XdpFilterMaps.ReleasePins();
    }

    /// <summary>Frames xdp-filter dropped (its xdp_stats_map, XDP_DROP).</summary>
    public override ulong? Counted(Mix mix)
    {
        using var stats = BpfMap.OpenPinned($"{XdpFilterMaps.PinDir}/xdp_stats_map");
        return (ulong)stats.LookupPerCpu<uint, DataRec>(1 /* XDP_DROP */).Sum(d => (long)d.Packets);
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct DataRec
    {
        public ulong Packets;
        public ulong Bytes;
    }
}

/// <summary>
/// nftables on the netdev ingress hook of the receiving end, in one form. The table (sets included) is loaded
/// once (<see cref="NftTable"/>); a start makes the base chain run this form. No XDP program is attached: the
/// frames arrive as the skbs AF_PACKET sent, which is where nft sees them.
/// </summary>
public sealed class NftSut(NftTable table, NftForm form) : Sut
{
    public override string Name => form == NftForm.Plain ? "nft plain chain" : "nft sets (best form)";

    public NftForm Form => form;

    public override bool HasXdpProgram => false;

    public override void Start() => table.Run(table.Ruleset.Activate(form));

    public override void Stop() => table.Run(table.Ruleset.Deactivate());

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

/// <summary>fw's packet-log counters (fw_stats): records written, frames to log refused over the rate, refused for a full ring.</summary>
public readonly record struct LogCounts(ulong Written, ulong OverRate, ulong Full)
{
    public static LogCounts operator -(LogCounts a, LogCounts b) => new(a.Written - b.Written, a.OverRate - b.OverRate, a.Full - b.Full);
}

/// <summary>fw's limit checks (fw_stats' LIMIT_UNDER and LIMIT_OVER): packets a limit found within its rate, and over it.</summary>
public readonly record struct LimitChecks(ulong Within, ulong Over)
{
    public static LimitChecks operator -(LimitChecks a, LimitChecks b) => new(a.Within - b.Within, a.Over - b.Over);
}

/// <summary>A classifier object of another build (fw.bpf.o), named in the results by its label.</summary>
public sealed record FwBuild(string Label, string ObjectPath);
