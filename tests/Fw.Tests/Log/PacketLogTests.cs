using Fw.Bpf;
using Fw.Compiler;
using Fw.Kernel;
using Fw.Packets;
using Fw.Tests.Kernel;
using Fw.Tests.Rules;

namespace Fw.Tests.Log;

/// <summary>
/// The packet log in the kernel (bpf/fw_log.h) and its reader (PacketLog): the frames of logged rules and verdicts
/// and only those, with their rule, verdict, length and bytes; sampling; the rate cap and its counter; a reload in
/// the middle of reading loses nothing. Frames go through the attached dispatcher with BPF_PROG_TEST_RUN.
/// </summary>
public sealed class PacketLogTests : IDisposable
{
    private readonly TestVeth _veth = new();

    public void Dispose() => _veth.Dispose();

    private static readonly ImageOrigin Origin = new("/dev/null", 0);

    private static MapImage Image(string yaml) => RulesetCompiler.Compile(RulesTestKit.ParseOk(yaml));

    private XdpAction Live(Frame f, int repeat = 1)
    {
        using var prog = FdHandle.OpenPinned(PinLayout.Prog(_veth.Name));
        return BpfObject.TestRun(prog.Fd, f.Build(), repeat).Verdict;
    }

    private static List<LogRecord> Drain(PacketLog log)
    {
        var got = new List<LogRecord>();
        while (log.Read(TimeSpan.FromMilliseconds(200), got.Add) > 0)
        {
        }
        return got;
    }

    private const string Rules = """
        default: pass
        log:
          snaplen: 64
          malformed: true
        rules:
          - name: ssh
            proto: tcp
            dport: 22
            action: drop
            log: true
          - name: dns
            proto: udp
            dport: 53
            action: pass
          - name: web
            proto: tcp
            dport: 80
            action: pass
            log: true
        """;

    [Fact]
    public void LogsExactlyTheLoggedRulesWithTheirBytes()
    {
        Firewall.Attach(_veth.Name, Image(Rules), Origin, XdpMode.Native);
        using var log = PacketLog.Open(_veth.Name);
        var ssh = Frame.Tcp("198.18.0.1", "192.0.2.10", 40000, 22).WithPayload(100);
        var dns = Frame.Udp("198.18.0.1", "192.0.2.10", 40000, 53);
        var web = Frame.Tcp("2001:db8::1", "2001:db8::2", 40001, 80);
        var other = Frame.Tcp("198.18.0.1", "192.0.2.10", 40000, 443);
        var truncated = Frame.Tcp("198.18.0.1", "192.0.2.10", 1, 22) with { TruncateTo = 40 };
        Assert.Equal(XdpAction.Drop, Live(ssh));
        Assert.Equal(XdpAction.Pass, Live(dns));
        Assert.Equal(XdpAction.Pass, Live(web));
        Assert.Equal(XdpAction.Pass, Live(other));
        Assert.Equal(XdpAction.Drop, Live(truncated));
        var before = DateTimeOffset.UtcNow;

        var got = Drain(log);
        Assert.Equal(["ssh", "web", "(malformed)"], got.Select(r => r.Decided));
        var (s, w, m) = (got[0], got[1], got[2]);
        Assert.Equal((XdpAction.Drop, FwReason.Rule, 0, ssh.Build().Length), (s.Verdict, s.Reason, s.RuleIndex!.Value, s.Length));
        Assert.Equal(ssh.Build().AsSpan(0, 64).ToArray(), s.Data);   // the first snaplen bytes
        Assert.Equal((XdpAction.Pass, 2, web.Build().Length), (w.Verdict, w.RuleIndex!.Value, w.Length));
        Assert.Equal(web.Build().AsSpan(0, 64).ToArray(), w.Data);
        Assert.Equal((XdpAction.Drop, FwReason.Malformed, (uint)FwStatSlot.Malformed, 40), (m.Verdict, m.Reason, m.Slot, m.Length));
        Assert.Equal(truncated.Build(), m.Data);   // shorter than snaplen: whole
        Assert.All(got, r => Assert.InRange(r.Time, before.AddSeconds(-30), before.AddSeconds(1)));
        Assert.All(got, r => Assert.True(r.Ifindex > 0));   // BPF_PROG_TEST_RUN's (lo); the lab tests see the real one

        var stats = StatsSnapshot.Read(_veth.Name);
        Assert.Equal((3UL, 0UL, 0UL), (stats.LogRecords.Total.Packets, stats.LogOverRate.Total.Packets, stats.LogBufferFull.Total.Packets));
    }

    [Fact]
    public void OneInNIsLoggedAtRandom()
    {
        Firewall.Attach(_veth.Name, Image("""
            default: drop
            log:
              rate: 1000000
              default: "1/100"
            rules:
              - name: sampled
                proto: udp
                action: pass
                log: 1/10
            """), Origin, XdpMode.Native);
        using var log = PacketLog.Open(_veth.Name);
        Live(Frame.Tcp("198.18.0.1", "192.0.2.10", 1, 2), repeat: 100_000);
        Live(Frame.Udp("198.18.0.1", "192.0.2.10", 1, 2), repeat: 20_000);
        var got = Drain(log);
        int defaults = got.Count(r => r.Reason == FwReason.Default), sampled = got.Count(r => r.RuleName == "sampled");
        Assert.InRange(defaults, 900, 1100);    // 100,000 / 100 ± 10%
        Assert.InRange(sampled, 1800, 2200);    // 20,000 / 10 ± 10%
        Assert.Equal((ulong)got.Count, StatsSnapshot.Read(_veth.Name).LogRecords.Total.Packets);
    }

    [Fact]
    public void TheRateCapHoldsAndCountsWhatItRefused()
    {
        Firewall.Attach(_veth.Name, Image("""
            log:
              rate: 100
            rules:
              - proto: tcp
                action: drop
                log: true
            """), Origin, XdpMode.Native);
        using var log = PacketLog.Open(_veth.Name);
        var sw = System.Diagnostics.Stopwatch.StartNew();
        Live(Frame.Tcp("198.18.0.1", "192.0.2.10", 1, 2), repeat: 20_000);
        double seconds = sw.Elapsed.TotalSeconds;
        var got = Drain(log);
        // A full bucket (one second's worth) and what refilled while the frames ran.
        Assert.InRange(got.Count, 100, 100 + (int)Math.Ceiling(seconds * 100) + 1);
        var stats = StatsSnapshot.Read(_veth.Name);
        Assert.Equal((ulong)got.Count, stats.LogRecords.Total.Packets);
        Assert.Equal(20_000UL - (ulong)got.Count, stats.LogOverRate.Total.Packets);
    }

    [Fact]
    public void AReloadLosesNoRecordAndRulesKeepTheirNames()
    {
        Firewall.Attach(_veth.Name, Image(Rules), Origin, XdpMode.Native);
        using var log = PacketLog.Open(_veth.Name);
        uint ring = FdHandle.IdOfPinned(PinLayout.Log(_veth.Name));
        var ssh = Frame.Tcp("198.18.0.1", "192.0.2.10", 40000, 22);
        Live(ssh);
        // Another ruleset: a rule before ssh, web no longer logged, dns logged.
        Firewall.Reload(_veth.Name, Image(Rules.Replace("rules:\n", "rules:\n  - name: first\n    proto: icmp\n    action: drop\n")
            .Replace("    dport: 53\n    action: pass\n", "    dport: 53\n    action: pass\n    log: 1/1\n")
            .Replace("    dport: 80\n    action: pass\n    log: true", "    dport: 80\n    action: pass")), Origin);
        Assert.Equal(ring, FdHandle.IdOfPinned(PinLayout.Log(_veth.Name)));   // the same ring
        Live(ssh);
        Live(Frame.Udp("198.18.0.1", "192.0.2.10", 40000, 53));
        Live(Frame.Tcp("198.18.0.1", "192.0.2.10", 40000, 80));
        var got = Drain(log);
        Assert.Equal(["ssh", "ssh", "dns"], got.Select(r => r.Decided));
        Assert.Equal([0, 1, 2], got.Select(r => r.RuleIndex!.Value));   // each in its own generation

        // A ruleset that logs nothing keeps the ring for the next that does; the reader sees nothing meanwhile.
        Firewall.Reload(_veth.Name, Image("rules:\n  - action: pass\n"), Origin);
        Live(ssh);
        Assert.Empty(Drain(log));
        Assert.Equal(ring, FdHandle.IdOfPinned(PinLayout.Log(_veth.Name)));
    }

    [Fact]
    public void OneReaderAtATimeAndNoLogWithoutALoggingRuleset()
    {
        Firewall.Attach(_veth.Name, Image("rules:\n  - action: pass\n"), Origin, XdpMode.Native);
        var none = Assert.Throws<FirewallException>(() => PacketLog.Open(_veth.Name));
        Assert.Contains("no packet log", none.Message);
        Assert.False(File.Exists(PinLayout.Log(_veth.Name)));
        Firewall.Reload(_veth.Name, Image(Rules), Origin);
        using var first = PacketLog.Open(_veth.Name);
        var busy = Assert.ThrowsAny<Exception>(() => PacketLog.Open(_veth.Name));
        Assert.Contains("another fwctl log", busy.Message);
    }
}
