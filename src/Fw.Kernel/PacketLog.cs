using System.Runtime.InteropServices;
using Fw.Bpf;
using Fw.Rules;

namespace Fw.Kernel;

/// <summary>
/// The reader of an interface's packet log (the pinned fw_log ring, shared by every generation, so a reload loses
/// no record): one reader at a time per interface (a flock on /run/fw/IFACE.log-reader). Records come with the
/// name of their rule, looked up by its fw_stats slot in the live generation (a rule keeps its slot across reloads).
/// </summary>
public sealed class PacketLog : IDisposable
{
    private readonly FileLock _reader;
    private readonly BpfMap _ring;
    private readonly RingBuffer _rb;
    private readonly string _iface;
    private Dictionary<uint, (int Index, string Name)> _rules = [];   // by fw_stats slot, in the live generation
    private ulong _generation;

    private PacketLog(string iface, FileLock reader, BpfMap ring)
    {
        _iface = iface;
        _reader = reader;
        _ring = ring;
        _rb = new RingBuffer(ring);
        RefreshRules();
    }

    /// <summary>How often a follower reads: the ring holds about 14,000 records, 10 ms of 1.4 M records a second.</summary>
    public static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(10);

    public static string ReaderLockPath(string iface) => Path.Combine(PinLayout.LockDir, InterfaceName.Checked(iface) + ".log-reader");

    /// <summary>Opens the interface's log for reading; fails when another reader has it or nothing was ever logged there.</summary>
    public static PacketLog Open(string iface)
    {
        Firewall.RequireRoot();
        PinLayout.CheckRoot();
        string pin = PinLayout.Log(iface);
        if (!File.Exists(PinLayout.Meta(iface)))
            throw new FirewallException(iface, "log", FirewallError.NotAttached, $"{iface}: fw is not attached");
        if (!File.Exists(pin))
        {
            throw new FirewallException(iface, "log", FirewallError.NotAttached,
                $"{iface}: no packet log (no ruleset of the interface has logged anything: add `log` to a rule)");
        }
        OwnDirectory.Ensure(PinLayout.LockDir);
        var reader = FileLock.Acquire(ReaderLockPath(iface), TimeSpan.Zero, $"read the packet log of {iface}", "another fwctl log is reading it");
        BpfMap? ring = null;
        try
        {
            ring = BpfMap.OpenPinned(pin);
            return new PacketLog(iface, reader, ring);
        }
        catch
        {
            ring?.Dispose();
            reader.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Waits up to <paramref name="timeout"/> for records; each goes to <paramref name="onRecord"/> in order. Returns how
    /// many. The program writes records without waking the reader (a wakeup per record is costly): call this at
    /// least every <see cref="PollInterval"/> while following, or a busy log fills its ring.
    /// </summary>
    public int Read(TimeSpan timeout, Action<LogRecord> onRecord)
    {
        // bpf_ktime_get_ns is CLOCK_MONOTONIC: the wall clock is that plus the offset between the two now.
        long offsetNs = DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() * 1_000_000L - (long)KernelClock.MonotonicNs();
        if (CurrentGeneration() != _generation)
            RefreshRules();
        return _rb.Poll(timeout, raw => onRecord(Decode(raw, offsetNs)));
    }

    private LogRecord Decode(ReadOnlySpan<byte> raw, long offsetNs)
    {
        int header = Marshal.SizeOf<FwLogRec>();
        if (raw.Length < header)
            throw new BpfException($"{_iface}: a packet log record of {raw.Length} bytes (at least {header} expected)", 0);
        var rec = MemoryMarshal.Read<FwLogRec>(raw);
        int caplen = Math.Min(rec.Caplen, raw.Length - header);
        var reason = (FwReason)rec.Reason;
        (int Index, string Name)? rule = null;
        if (reason == FwReason.Rule)
        {
            if (!_rules.ContainsKey(rec.Slot))
                RefreshRules();   // a rule a reload added since
            if (_rules.TryGetValue(rec.Slot, out var r))
                rule = r;
        }
        var time = DateTimeOffset.FromUnixTimeMilliseconds(0).AddTicks(((long)rec.TsNs + offsetNs) / 100);
        // The index is the record's own (its rule's place in the generation that decided it); the name goes by slot.
        int? index = reason == FwReason.Rule && rec.Rule != uint.MaxValue ? (int)rec.Rule : null;
        return new LogRecord(time, (int)rec.Cpu, (int)rec.Ifindex, (XdpAction)rec.Verdict, reason, rec.Slot,
            index, rule?.Name, (int)rec.Len, raw.Slice(header, caplen).ToArray());
    }

    private ulong CurrentGeneration()
    {
        using var meta = BpfMap.OpenPinned(PinLayout.Meta(_iface));
        return meta.Lookup<uint, FwMeta>(0).Generation;
    }

    private void RefreshRules()
    {
        using var state = InterfaceState.Open(_iface);
        _generation = state.Meta.Generation;
        _rules = state.Rules.ToDictionary(r => r.Slot, r => (r.Index, r.Name));
    }

    public void Dispose()
    {
        _rb.Dispose();
        _ring.Dispose();
        _reader.Dispose();
    }
}
