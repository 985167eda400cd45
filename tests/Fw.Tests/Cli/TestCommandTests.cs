using System.Diagnostics;
using System.Text.Json;
using System.Text.RegularExpressions;
using Fw.Compiler;
using Fw.Kernel;
using Fw.Packets;
using Fw.Tests.Kernel;
using Fw.Bpf;
using Fw.Control;
using static Fw.Tests.Cli.Fwctl;

namespace Fw.Tests.Cli;

/// <summary>
/// fwctl test end to end on a real attached veth: every spec form through the command line, text and JSON,
/// a pcap of several frames, the live counters left alone, and every error with its exit code.
/// </summary>
public sealed class TestCommandTests : IDisposable
{
    private readonly TestVeth _veth = new();
    private readonly string _dir = Directory.CreateTempSubdirectory("fwctl-test-").FullName;

    public TestCommandTests()
    {
        // Nothing may arrive on the interface but what the tests run: no peer, no IPv6 autoconfiguration.
        TestVeth.Ip("link", "set", _veth.Peer, "down");
    }

    public void Dispose()
    {
        _veth.Dispose();
        Directory.Delete(_dir, recursive: true);
    }

    private string Rules => $"""
        default: pass
        malformed: drop
        non_ip: drop
        rules:
          - name: ssh-block
            proto: tcp
            dport: 22
            action: drop
          - name: dns
            proto: udp
            dport: 53
            action: pass
          - name: to-peer
            src: 203.0.113.0/24
            action: redirect
            to: {_veth.Peer}
          - name: ping-block
            proto: icmp
            icmp_type: 8
            action: drop
          - name: nd
            proto: icmpv6
            icmp_type: [135, 136]
            action: pass
          - name: gre
            proto: 47
            action: drop
          - dst: "2001:db8:bad::/48"
            action: drop
        """;

    private string Attach(string? yaml = null)
    {
        string path = Path.Combine(_dir, $"rules-{Guid.NewGuid():N}.yaml");
        File.WriteAllText(path, yaml ?? Rules);
        var check = RulesCheck.Check(path);
        Assert.True(check.Ok, string.Join("\n", check.Diagnostics));
        Deployment.Attach(_veth.Name, check, XdpMode.Auto);
        return path;
    }

    /// <summary>spec → verdict (as text prints it) → cause (as text prints it) → JSON reason → JSON rule_index.</summary>
    private static readonly (string Spec, string Verdict, string Cause, string Reason, int? Rule)[] Table =
    [
        ("tcp 198.51.100.7:40000 -> 192.0.2.10:22 syn", "DROP", "rule ssh-block (#1)", "rule", 0),
        ("vlan 100 tcp 198.51.100.7:40000 -> 192.0.2.10:22 syn,ack", "DROP", "rule ssh-block (#1)", "rule", 0),
        ("tcp 198.51.100.7:40000 -> 192.0.2.10:80 syn", "PASS", "default", "default", null),
        ("vlan 10 vlan 20 udp [2001:db8::1]:5353 -> [2001:db8::2]:53", "PASS", "rule dns (#2)", "rule", 1),
        ("udp 203.0.113.9:1000 -> 192.0.2.1:2000 len 10", "REDIRECT", "rule to-peer (#3)", "rule", 2),
        ("icmp 192.0.2.1 -> 192.0.2.2 type 8", "DROP", "rule ping-block (#4)", "rule", 3),
        ("icmp 192.0.2.1 -> 192.0.2.2 type 0", "PASS", "default", "default", null),
        ("icmpv6 2001:db8::1 -> 2001:db8::2 type 135", "PASS", "rule nd (#5)", "rule", 4),
        ("proto 47 192.0.2.1 -> 192.0.2.2 len 4", "DROP", "rule gre (#6)", "rule", 5),
        ("frag 1480 tcp 198.51.100.7:40000 -> 192.0.2.10:22 syn", "PASS", "default", "default", null),
        ("frag 0 tcp 198.51.100.7:40000 -> 192.0.2.10:22 syn", "DROP", "rule ssh-block (#1)", "rule", 0),
        ("ext hop,dest udp [2001:db8::1]:1 -> [2001:db8::2]:53", "PASS", "rule dns (#2)", "rule", 1),
        ("ext hop,hop,hop,hop,hop,hop,hop,hop udp [2001:db8::1]:1 -> [2001:db8::2]:53", "PASS", "rule dns (#2)", "rule", 1),
        ("ext hop,hop,hop,hop,hop,hop,hop,hop,hop udp [2001:db8::1]:1 -> [2001:db8::2]:53", "DROP", "malformed", "malformed", null),
        ("tcp [2001:db8::1]:1 -> [2001:db8:bad::1]:80 ack len 20", "DROP", "rule rule-7 (#7)", "rule", 6),
        ("arp 192.0.2.1 -> 192.0.2.2", "DROP", "non-IP", "non_ip", null),
        ("ether 0x88cc len 20", "DROP", "non-IP", "non_ip", null),
        ("vlan 1 vlan 2 vlan 3 udp 192.0.2.1:1 -> 192.0.2.2:53", "DROP", "malformed", "malformed", null),
        ("tcp 198.51.100.7:1 -> 192.0.2.10:22 syn trunc 40", "DROP", "malformed", "malformed", null),
        ("udp 192.0.2.1:1 -> 192.0.2.2:53 trunc 10", "DROP", "malformed (too short for BPF_PROG_TEST_RUN, not run)", "malformed", null),
    ];

    private string[] PacketArgs() => Table.SelectMany(t => new[] { "--packet", t.Spec }).ToArray();

    [Fact]
    public void TextOneAlignedLinePerPacket()
    {
        Attach();
        var (rc, stdout, stderr) = Run(["test", _veth.Name, .. PacketArgs()]);
        Assert.True(rc == 0, stderr);
        Assert.Equal("", stderr);
        var lines = stdout.TrimEnd('\n').Split('\n');
        Assert.Equal(Table.Length, lines.Length);
        int verdictColumn = -1;
        for (int i = 0; i < Table.Length; i++)
        {
            var t = Table[i];
            var m = Regex.Match(lines[i], @"^(#\d+) +(.+?) +(PASS|DROP|REDIRECT|ABORTED|TX) +(.+)$");
            Assert.True(m.Success, lines[i]);
            Assert.Equal($"#{i + 1}", m.Groups[1].Value);
            Assert.Equal(t.Spec, m.Groups[2].Value);    // the table's specs are canonical: text prints them as given
            Assert.Equal(t.Verdict, m.Groups[3].Value);
            Assert.Equal(t.Cause, m.Groups[4].Value);
            // Aligned: every column starts at the same place on every line.
            Assert.Equal(5, m.Groups[2].Index);
            if (verdictColumn < 0)
                verdictColumn = m.Groups[3].Index;
            Assert.Equal(verdictColumn, m.Groups[3].Index);
        }
    }

    [Fact]
    public void JsonNamesEveryVerdictAndRule()
    {
        Attach();
        var (rc, stdout, stderr) = Run(["test", _veth.Name, "--json", .. PacketArgs()]);
        Assert.True(rc == 0, stderr);
        using var doc = JsonDocument.Parse(stdout);
        var root = doc.RootElement;
        Assert.Equal(_veth.Name, root.GetProperty("interface").GetString());
        Assert.Equal(1UL, root.GetProperty("generation").GetUInt64());
        var packets = root.GetProperty("packets").EnumerateArray().ToList();
        Assert.Equal(Table.Length, packets.Count);
        for (int i = 0; i < Table.Length; i++)
        {
            var (spec, verdict, _, reason, rule) = Table[i];
            var p = packets[i];
            Assert.Equal(i + 1, p.GetProperty("index").GetInt32());
            Assert.Equal(spec, p.GetProperty("spec").GetString());
            Assert.False(p.TryGetProperty("summary", out _));
            Assert.Equal(PacketSpec.Parse(spec).Build().Length, p.GetProperty("bytes").GetInt32());
            Assert.Equal(verdict.ToLowerInvariant(), p.GetProperty("verdict").GetString());
            Assert.Equal(reason, p.GetProperty("reason").GetString());
            if (rule is int r)
            {
                Assert.Equal(r, p.GetProperty("rule_index").GetInt32());
                Assert.Equal(Table[i].Cause.Split(' ')[1], p.GetProperty("rule").GetString());
            }
            else
            {
                Assert.Equal(JsonValueKind.Null, p.GetProperty("rule_index").ValueKind);
                Assert.Equal(JsonValueKind.Null, p.GetProperty("rule").ValueKind);
            }
            string? note = p.GetProperty("note").GetString();
            Assert.Equal(spec.EndsWith("trunc 10") ? "too short for BPF_PROG_TEST_RUN, not run" : null, note);
        }
    }

    [Fact]
    public void AgreesWithTheLiveProgramAndLeavesItsCountersAlone()
    {
        Attach();
        var before = StatsSnapshot.Read(_veth.Name);
        for (int round = 0; round < 3; round++)
        {
            Assert.Equal(0, Run(["test", _veth.Name, .. PacketArgs()]).Exit);
            Assert.Equal(0, Run(["test", _veth.Name, "--json", .. PacketArgs()]).Exit);
        }
        var after = StatsSnapshot.Read(_veth.Name);
        AssertSameCounters(before, after);

        // The same frames through the attached program itself: the same verdicts, and now the counters move.
        var (_, stdout, _) = Run(["test", _veth.Name, "--json", .. PacketArgs()]);
        using var doc = JsonDocument.Parse(stdout);
        var verdicts = doc.RootElement.GetProperty("packets").EnumerateArray().Select(p => p.GetProperty("verdict").GetString()).ToList();
        using var prog = FdHandle.OpenPinned(PinLayout.Prog(_veth.Name));
        int ran = 0;
        for (int i = 0; i < Table.Length; i++)
        {
            var frame = PacketSpec.Parse(Table[i].Spec).Build();
            if (frame.Length < 14)
                continue;
            var live = BpfObject.TestRun(prog.Fd, frame).Verdict;
            Assert.Equal(verdicts[i], live.ToString().ToLowerInvariant());
            ran++;
        }
        var moved = StatsSnapshot.Read(_veth.Name);
        ulong Total(StatsSnapshot s) => s.Pass.Total.Packets + s.Drop.Total.Packets + s.Redirect.Total.Packets;
        Assert.Equal(Total(before) + (ulong)ran, Total(moved));
    }

    private static void AssertSameCounters(StatsSnapshot a, StatsSnapshot b)
    {
        Assert.Equal(a.Generation, b.Generation);
        foreach (var (name, x, y) in new[]
        {
            ("pass", a.Pass, b.Pass), ("drop", a.Drop, b.Drop), ("redirect", a.Redirect, b.Redirect),
            ("default", a.Default, b.Default), ("malformed", a.Malformed, b.Malformed), ("non_ip", a.NonIp, b.NonIp),
            ("no_ruleset", a.NoRuleset, b.NoRuleset), ("redirect_errors", a.RedirectErrors, b.RedirectErrors),
        })
        {
            Assert.True(x.Total == y.Total, $"{name}: {x.Total} then {y.Total}");
        }
        Assert.Equal(a.Rules.Select(r => (r.Name, r.Counter.Total)), b.Rules.Select(r => (r.Name, r.Counter.Total)));
    }

    [Fact]
    public void PcapOfSeveralFrames()
    {
        Attach();
        string pcap = Path.Combine(_dir, "mixed.pcap");
        var ssh = PacketSpec.Parse("tcp 198.51.100.7:40000 -> 192.0.2.10:22 syn").Build();
        var synWithOptions = Frame.Tcp("198.51.100.7", "192.0.2.10", 40001, 443)
            .WithTcp(t => t with { Options = [2, 4, 5, 0xb4, 1, 1, 4, 2] }) with { SrcMac = "52:54:00:12:34:56" };
        var dns = PacketSpec.Parse("vlan 10 udp [2001:db8::1]:5353 -> [2001:db8::2]:53 len 30").Build();
        var arp = PacketSpec.Parse("arp 192.0.2.1 -> 192.0.2.2").Build();
        var big = PacketSpec.Parse("udp 203.0.113.9:1 -> 192.0.2.1:2 len 1400").Build();
        var runt = new byte[10];
        using (var w = PcapSink.Create(pcap))
        {
            w.Write(ssh);
            w.Write(synWithOptions.Build());
            w.Write(dns);
            w.Write(arp);
            w.Write(runt);
        }
        // A record snapped at 96 bytes by the capture, appended by hand: captured 96, on the wire 1,442.
        using (var f = new FileStream(pcap, FileMode.Append))
        {
            var rec = new byte[16];
            BitConverter.TryWriteBytes(rec.AsSpan(0), 1_700_000_000u);
            BitConverter.TryWriteBytes(rec.AsSpan(8), 96u);
            BitConverter.TryWriteBytes(rec.AsSpan(12), (uint)big.Length);
            f.Write(rec);
            f.Write(big, 0, 96);
        }
        var before = StatsSnapshot.Read(_veth.Name);

        var (rc, stdout, stderr) = Run("test", _veth.Name, "--pcap", pcap);
        Assert.True(rc == 0, stderr);
        var lines = stdout.TrimEnd('\n').Split('\n');
        string[] expected =
        [
            @"^#1  tcp 198\.51\.100\.7:40000 -> 192\.0\.2\.10:22 syn +DROP +rule ssh-block \(#1\)$",
            @"^#2  tcp 198\.51\.100\.7:40001 -> 192\.0\.2\.10:443 syn +PASS +default$",
            @"^#3  vlan 10 udp \[2001:db8::1\]:5353 -> \[2001:db8::2\]:53 len 30 +PASS +rule dns \(#2\)$",
            @"^#4  arp 192\.0\.2\.1 -> 192\.0\.2\.2 +DROP +non-IP$",
            @"^#5  \(10 bytes: Ethernet header needs 14 bytes, 10 present\) +DROP +malformed \(too short for BPF_PROG_TEST_RUN, not run\)$",
            @"^#6  udp 203\.0\.113\.9:1 -> 192\.0\.2\.1:2 len 54 +REDIRECT +rule to-peer \(#3\) \(snapped: 96 of 1442 bytes captured\)$",
        ];
        Assert.Equal(expected.Length, lines.Length);
        for (int i = 0; i < expected.Length; i++)
            Assert.Matches(expected[i], lines[i]);

        (rc, stdout, stderr) = Run("test", _veth.Name, "--pcap", pcap, "--json");
        Assert.True(rc == 0, stderr);
        using var doc = JsonDocument.Parse(stdout);
        var packets = doc.RootElement.GetProperty("packets").EnumerateArray().ToList();
        Assert.Equal(6, packets.Count);
        Assert.All(packets, p => Assert.False(p.TryGetProperty("spec", out _)));
        Assert.Equal("vlan 10 udp [2001:db8::1]:5353 -> [2001:db8::2]:53 len 30", packets[2].GetProperty("summary").GetString());
        Assert.Equal(new[] { "drop", "pass", "pass", "drop", "drop", "redirect" }, packets.Select(p => p.GetProperty("verdict").GetString()));
        Assert.Equal(new[] { "rule", "default", "rule", "non_ip", "malformed", "rule" }, packets.Select(p => p.GetProperty("reason").GetString()));
        Assert.Equal(new[] { 54, synWithOptions.Build().Length, dns.Length, 42, 10, 96 }, packets.Select(p => p.GetProperty("bytes").GetInt32()));
        Assert.Equal("to-peer", packets[5].GetProperty("rule").GetString());

        // A summary of a spec-built frame is a spec: run as --packet it gets the same verdict.
        var again = Run("test", _veth.Name, "--packet", packets[2].GetProperty("summary").GetString()!);
        Assert.Matches(@"PASS +rule dns \(#2\)", again.Out);

        AssertSameCounters(before, StatsSnapshot.Read(_veth.Name));
    }

    /// <summary>pcapng (Wireshark's format, here made by its editcap) runs as classic pcap does: libpcap reads both.</summary>
    [Fact]
    public void PcapngRunsAsPcapDoes()
    {
        Attach();
        string pcap = Path.Combine(_dir, "two.pcap"), ng = Path.Combine(_dir, "two.pcapng");
        PcapSink.WriteFile(pcap, [
            PacketSpec.Parse("tcp 198.51.100.7:40000 -> 192.0.2.10:22 syn").Build(),
            PacketSpec.Parse("udp 192.0.2.1:5353 -> 192.0.2.2:53 len 12").Build(),
        ]);
        using (var editcap = Process.Start("editcap", ["-F", "pcapng", pcap, ng])!)
        {
            editcap.WaitForExit();
            Assert.Equal(0, editcap.ExitCode);
        }
        var (rc, fromPcap, stderr) = Run("test", _veth.Name, "--pcap", pcap);
        Assert.True(rc == 0, stderr);
        var (rc2, fromNg, stderr2) = Run("test", _veth.Name, "--pcap", ng);
        Assert.True(rc2 == 0, stderr2);
        Assert.Equal(fromPcap, fromNg);
        Assert.Matches(@"^#1  tcp 198\.51\.100\.7:40000 -> 192\.0\.2\.10:22 syn +DROP +rule ssh-block \(#1\)\n#2  udp 192\.0\.2\.1:5353 -> 192\.0\.2\.2:53 len 12 +PASS +rule dns \(#2\)\n$", fromNg);
    }

    [Fact]
    public void EmptyPcapRunsNothing()
    {
        Attach();
        string pcap = Path.Combine(_dir, "empty.pcap");
        PcapSink.WriteFile(pcap, []);
        var (rc, stdout, stderr) = Run("test", _veth.Name, "--pcap", pcap);
        Assert.Equal(0, rc);
        Assert.Equal("", stdout);
        Assert.Equal($"fwctl: {pcap}: no packets\n", stderr);
        (rc, stdout, _) = Run("test", _veth.Name, "--pcap", pcap, "--json");
        Assert.Equal(0, rc);
        Assert.Equal(0, JsonDocument.Parse(stdout).RootElement.GetProperty("packets").GetArrayLength());
    }

    [Fact]
    public void FollowsAReload()
    {
        string path = Attach();
        const string spec = "tcp 198.51.100.7:40000 -> 192.0.2.10:22 syn";
        Assert.Matches(@"DROP +rule ssh-block \(#1\)", Run("test", _veth.Name, "-p", spec).Out);

        File.WriteAllText(path, "default: drop\nrules:\n  - name: ssh-ok\n    proto: tcp\n    dport: 22\n    action: pass\n");
        Deployment.Reload(_veth.Name, RulesCheck.Check(path));
        var (rc, stdout, _) = Run("test", _veth.Name, "-p", spec, "-p", "udp 192.0.2.1:1 -> 192.0.2.2:53", "-j");
        Assert.Equal(0, rc);
        using var doc = JsonDocument.Parse(stdout);
        Assert.Equal(2UL, doc.RootElement.GetProperty("generation").GetUInt64());
        var p = doc.RootElement.GetProperty("packets");
        Assert.Equal("ssh-ok", p[0].GetProperty("rule").GetString());
        Assert.Equal("pass", p[0].GetProperty("verdict").GetString());
        Assert.Equal("default", p[1].GetProperty("reason").GetString());
        Assert.Equal("drop", p[1].GetProperty("verdict").GetString());
    }

    [Fact]
    public void BadSpecIsAUsageErrorWithItsColumn()
    {
        Attach();
        var (rc, stdout, stderr) = Run("test", _veth.Name, "--packet", "tcp 198.51.100.7: -> 192.0.2.10:22");
        Assert.Equal(2, rc);
        Assert.Equal("", stdout);
        Assert.Equal(
            "fwctl: --packet: col 18: expected a port after ':'\n" +
            "    tcp 198.51.100.7: -> 192.0.2.10:22\n" +
            "                     ^\n", stderr);

        (rc, stdout, stderr) = Run("test", _veth.Name, "-p", "udp 192.0.2.1:1 -> 192.0.2.2:2", "-p", "udp 1.2.3.4:70000 -> 1.2.3.5:1", "--json");
        Assert.Equal(2, rc);
        Assert.Contains("    udp 1.2.3.4:70000 -> 1.2.3.5:1\n                ^~~~~\n", stderr);
        using var doc = JsonDocument.Parse(stdout);
        Assert.Equal("--packet #2: col 13: port 70000 is out of range (0-65535)", doc.RootElement.GetProperty("error").GetString());
        Assert.Equal(13, doc.RootElement.GetProperty("column").GetInt32());
        Assert.Equal("udp 1.2.3.4:70000 -> 1.2.3.5:1", doc.RootElement.GetProperty("spec").GetString());
    }

    [Fact]
    public void UsageErrors()
    {
        var (rc, stdout, stderr) = Run("test", _veth.Name);
        Assert.Equal(2, rc);
        Assert.Equal("", stdout);
        Assert.Contains("fwctl: give the packets: --packet SPEC or --pcap FILE", stderr);

        string pcap = Path.Combine(_dir, "x.pcap");
        PcapSink.WriteFile(pcap, []);
        (rc, stdout, stderr) = Run("test", _veth.Name, "-p", "udp 1.2.3.4:1 -> 1.2.3.5:2", "--pcap", pcap, "--json");
        Assert.Equal(2, rc);
        Assert.Equal("give --packet or --pcap, not both", JsonDocument.Parse(stdout).RootElement.GetProperty("error").GetString());

        (rc, _, _) = Run("test");
        Assert.Equal(2, rc);

        (rc, stdout, _) = Run("test", "--help");
        Assert.Equal(0, rc);
        Assert.Contains("Exit codes: 0 ok, 1 failure", stdout);
        Assert.Contains("tcp SRC:PORT -> DST:PORT [FLAGS]", stdout);
    }

    /// <summary>
    /// Every read is bounded in size and time: a --pcap that is a FIFO whose writer stays idle, or a device, is refused
    /// at once (it blocked fwctl for ever, or read until memory ran out); so is a file past the size bound.
    /// </summary>
    [Fact]
    public void PcapThatIsNotARegularFileIsRefusedAtOnce()
    {
        Attach();
        string fifo = Path.Combine(_dir, "capture.pcap");
        using (var mk = System.Diagnostics.Process.Start("mkfifo", [fifo])!)
            mk.WaitForExit();
        using var writer = new FileStream(fifo, FileMode.Open, FileAccess.ReadWrite, FileShare.ReadWrite, 1);   // a writer that stays idle
        var sw = System.Diagnostics.Stopwatch.StartNew();
        var (rc, _, stderr) = Run("test", _veth.Name, "--pcap", fifo);
        Assert.Equal(1, rc);
        Assert.Contains("FIFO", stderr);
        Assert.True(sw.Elapsed < TimeSpan.FromSeconds(10), $"took {sw.Elapsed}");
        (rc, _, stderr) = Run("test", _veth.Name, "--pcap", "/dev/zero");
        Assert.Equal(1, rc);
        Assert.Contains("not a regular file", stderr);

        string big = Path.Combine(_dir, "big.pcap");
        using (var f = File.Create(big))
            f.SetLength((64L << 20) + 1);   // sparse: no 64 MiB written
        (rc, _, stderr) = Run("test", _veth.Name, "--pcap", big);
        Assert.Equal(1, rc);
        Assert.Contains("reads at most", stderr);
    }

    [Fact]
    public void KernelAndFileFailuresExitOne()
    {
        // Not attached (the veth has nothing on it yet).
        var (rc, stdout, stderr) = Run("test", _veth.Name, "-p", "udp 1.2.3.4:1 -> 1.2.3.5:2");
        Assert.Equal(1, rc);
        Assert.Equal("", stdout);
        Assert.Equal($"fwctl: {_veth.Name}: fw is not attached (fwctl attach {_veth.Name} --rules FILE)\n", stderr);
        (rc, stdout, _) = Run("test", _veth.Name, "-p", "udp 1.2.3.4:1 -> 1.2.3.5:2", "--json");
        Assert.Equal(1, rc);
        Assert.Equal($"{_veth.Name}: fw is not attached (fwctl attach {_veth.Name} --rules FILE)",
            JsonDocument.Parse(stdout).RootElement.GetProperty("error").GetString());

        // No such interface.
        (rc, _, stderr) = Run("test", "fwnosuch0", "-p", "udp 1.2.3.4:1 -> 1.2.3.5:2");
        Assert.Equal(1, rc);
        Assert.Contains("fwnosuch0: no such interface", stderr);

        Attach();
        // Missing, unreadable-as-pcap and pcapng files.
        string missing = Path.Combine(_dir, "missing.pcap");
        (rc, stdout, stderr) = Run("test", _veth.Name, "--pcap", missing, "-j");
        Assert.Equal(1, rc);
        Assert.Equal($"{missing}: no such file", JsonDocument.Parse(stdout).RootElement.GetProperty("error").GetString());
        Assert.Equal($"fwctl: {missing}: no such file\n", stderr);

        // A pcapng file cut inside its section header block: libpcap's words, after the file's name.
        string ng = Path.Combine(_dir, "capture.pcapng");
        File.WriteAllBytes(ng, [0x0a, 0x0d, 0x0d, 0x0a, 0x1c, 0, 0, 0, 0x4d, 0x3c, 0x2b, 0x1a]);
        (rc, _, stderr) = Run("test", _veth.Name, "--pcap", ng);
        Assert.Equal(1, rc);
        Assert.StartsWith($"fwctl: {ng}: truncated pcapng dump file", stderr);

        string text = Path.Combine(_dir, "notes.pcap");
        File.WriteAllText(text, "not a capture\n");
        (rc, _, stderr) = Run("test", _veth.Name, "--pcap", text);
        Assert.Equal(1, rc);
        Assert.Equal($"fwctl: {text}: not a pcap or pcapng file (libpcap: unknown file format)\n", stderr);

        string sll = Path.Combine(_dir, "any.pcap");
        var header = new byte[24];
        BitConverter.TryWriteBytes(header.AsSpan(0), 0xa1b2c3d4u);
        BitConverter.TryWriteBytes(header.AsSpan(4), (ushort)2);
        BitConverter.TryWriteBytes(header.AsSpan(6), (ushort)4);
        BitConverter.TryWriteBytes(header.AsSpan(20), 276u);
        File.WriteAllBytes(sll, header);
        (rc, _, stderr) = Run("test", _veth.Name, "--pcap", sll);
        Assert.Equal(1, rc);
        Assert.Contains("link type 276 (LINUX_SLL2, tcpdump -i any) is not supported", stderr);
    }

    [Fact]
    public void AGenerationOfAnotherBuildIsNamedNotAFailedPin()
    {
        // A generation pinned by an older fw lacks the maps this build's program reads (here: the port tables).
        Attach();
        string gen = PinLayout.Generation(_veth.Name, 1);
        File.Delete(Path.Combine(gen, "fw_dport_dir"));
        var (rc, stdout, stderr) = Run("test", _veth.Name, "-p", "tcp 198.18.0.1:1 -> 198.18.0.2:22");
        Assert.Equal(1, rc);
        Assert.Equal("", stdout);
        Assert.Equal($"fwctl: {gen} was loaded by another fw build (it has no fw_dport_dir); the filter is unaffected, " +
            "and a reload (fwctl reload IFACE --rules FILE) rebuilds it with this one\n", stderr);
        // Nothing else minds: status reads the interface as before.
        (rc, stdout, _) = Run("status");
        Assert.Equal(0, rc);
        Assert.Contains(_veth.Name, stdout);
    }

    [Fact]
    public void NonRootIsRefused()
    {
        Attach();
        // The real binary as nobody: the root check comes before anything touches the kernel.
        string dll = Path.Combine(AppContext.BaseDirectory, "fwctl.dll");
        var psi = new ProcessStartInfo("setpriv")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            WorkingDirectory = "/",
        };
        foreach (string a in (string[])["--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all",
                     "env", "HOME=/tmp", "DOTNET_CLI_HOME=/tmp", "DOTNET_NOLOGO=1",
                     "dotnet", dll, "test", _veth.Name, "--packet", "udp 192.0.2.1:1 -> 192.0.2.2:53", "--json"])
            psi.ArgumentList.Add(a);
        using var p = Process.Start(psi)!;
        string stdout = p.StandardOutput.ReadToEnd();
        string stderr = p.StandardError.ReadToEnd();
        p.WaitForExit();
        Assert.True(p.ExitCode == 1, $"exit {p.ExitCode}: {stderr}");
        Assert.Contains("fw needs root", stderr);
        Assert.Contains("fw needs root", JsonDocument.Parse(stdout).RootElement.GetProperty("error").GetString());

        // And a bad spec is still reported as such (exit 2) without root: specs are checked first.
        psi.ArgumentList[psi.ArgumentList.IndexOf("udp 192.0.2.1:1 -> 192.0.2.2:53")] = "udp 192.0.2.1 -> 192.0.2.2:53";
        using var q = Process.Start(psi)!;
        q.StandardOutput.ReadToEnd();
        string err2 = q.StandardError.ReadToEnd();
        q.WaitForExit();
        Assert.Equal(2, q.ExitCode);
        Assert.Contains("--packet: col 14: expected ':' and a port after 192.0.2.1", err2);
    }

    [Fact]
    public void NamesTheLiveSetEntryAndTheLimitThatDecided()
    {
        Attach("""
            default: pass
            sets:
              banned: { dynamic: true, timeout: 600 }
              feed: { dynamic: true }
            rules:
              - name: drop-banned
                src: ["@banned", "@feed", 192.0.2.99]
                action: drop
              - name: quota
                dst: 198.18.9.9
                limit: { rate: 1/m, burst: 1, per: rule }
                action: pass
              - name: flood
                proto: udp
                limit: { rate: 1/m, burst: 1, per: src }
                action: drop
            """);
        ulong now = KernelClock.CoarseNs();
        using (var banned = LiveSetMap.OpenPinned(_veth.Name, "banned"))
        {
            Assert.True(banned.Put(Fw.Rules.IpPrefix.Create(Fw.Rules.IpFamily.V4, (UInt128)0xC6120000u << 96, 16), now + 300_000_000_000UL, now));
            Assert.True(banned.Put(Fw.Rules.IpPrefix.Create(Fw.Rules.IpFamily.V4, (UInt128)0xC6120700u << 96, 24), now - 1, now));   // expired
        }
        using (var feed = LiveSetMap.OpenPinned(_veth.Name, "feed"))
            Assert.True(feed.Put(Fw.Rules.IpPrefix.Create(Fw.Rules.IpFamily.V4, (UInt128)0xC6120701u << 96, 32), 0, now));

        var (exit, stdout, stderr) = Run("test", _veth.Name, "--packet", "udp 198.18.7.1:5000 -> 192.0.2.1:53", "--packet", "udp 198.18.5.5:5000 -> 192.0.2.1:53");
        Assert.True(exit == 0, stderr);
        var lines = stdout.TrimEnd().Split('\n');
        // Past the expired /24: the /16 under it, and the feed's entry without expiry.
        Assert.Matches(@"DROP\s+rule drop-banned \(#1\); src in @banned 198\.18\.0\.0/16 \(expires in 4m\d+s\); src in @feed 198\.18\.7\.1/32 \(no expiry\)$", lines[0]);
        Assert.Matches(@"DROP\s+rule drop-banned \(#1\); src in @banned 198\.18\.0\.0/16 \(expires in 4m\d+s\)$", lines[1]);

        // Limits: the copy reads the buckets and never takes from them, so every run sees them as the live traffic left them.
        (exit, stdout, stderr) = Run("test", _veth.Name, "--json", "--packet", "udp 203.0.113.1:5000 -> 198.18.9.9:53");
        Assert.True(exit == 0, stderr);
        using var doc = JsonDocument.Parse(stdout);
        var p = doc.RootElement.GetProperty("packets")[0];
        Assert.Equal("quota", p.GetProperty("rule").GetString());   // a new bucket is full: within the quota
        Assert.True(p.GetProperty("limit").GetBoolean());
        Assert.Equal(0, p.GetProperty("limits_passed").GetInt32());
        Assert.Equal(0, p.GetProperty("sets").GetArrayLength());

        (exit, stdout, stderr) = Run("test", _veth.Name, "--packet", "udp 203.0.113.1:5000 -> 192.0.2.1:53");
        Assert.True(exit == 0, stderr);
        Assert.Matches(@"PASS\s+default; 1 limited rule passed over", stdout);   // flood: within its rate, so not matching
    }
}
