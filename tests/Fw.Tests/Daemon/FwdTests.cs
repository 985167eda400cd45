using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using Fw.Cli;
using Fw.Compiler;
using Fw.Kernel;
using Fw.Packets;
using Fw.Tests.Kernel;
using Xunit.Abstractions;
using Fw.Bpf;
using Fw.Control;

namespace Fw.Tests.Daemon;

/// <summary>fwd runs by itself: its timing bound (an edit in force within a second) is measured without other tests' load.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class FwdCollection
{
    public const string Name = "fwd";
}

/// <summary>
/// The fwd binary as a real process against a veth: attach at start and readiness, reload on edits
/// (rewrite, rename, ConfigMap symlink swap, set file) and SIGHUP, bad edits, kill -9, adoption by a
/// new fwd, metrics, --detach-on-exit. Verdicts come from the pinned program itself (BPF_PROG_TEST_RUN).
/// </summary>
[Collection(FwdCollection.Name)]
public sealed class FwdTests(ITestOutputHelper output) : IDisposable
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(20);
    private static readonly TimeSpan EditBound = TimeSpan.FromSeconds(1);

    private readonly TestVeth _veth = new();
    private readonly string _dir = Directory.CreateTempSubdirectory("fwd-test-").FullName;
    private readonly List<FwdProcess> _fwds = [];
    private readonly List<TestVeth> _moreVeths = [];

    private static readonly byte[] Ssh = Frame.Tcp("198.18.0.1", "198.18.0.2", 40000, 22).Build();
    private static readonly byte[] Ssh2222 = Frame.Tcp("198.18.0.1", "198.18.0.2", 40000, 2222).Build();
    private static readonly byte[] Web = Frame.Tcp("198.18.0.1", "198.18.0.2", 40000, 80).Build();

    public void Dispose()
    {
        foreach (var f in _fwds)
            f.Dispose();   // kills a fwd still running; the veths' Dispose detaches and removes the pins
        foreach (var v in _moreVeths)
            v.Dispose();
        _veth.Dispose();
        Directory.Delete(_dir, recursive: true);
    }

    private string Iface => _veth.Name;

    /// <summary>ssh (tcp 22) dropped, web (tcp 80) passed; the default passes.</summary>
    private string V1(params string[] ifaces) => $$"""
        interfaces: [{{string.Join(", ", ifaces.Length == 0 ? [Iface] : ifaces)}}]
        rules:
          - name: ssh
            proto: tcp
            dport: 22
            action: drop
          - name: web
            proto: tcp
            dport: 80
            action: pass
        """;

    /// <summary>V1 with ssh also on 2222.</summary>
    private string V2 => $$"""
        interfaces: [{{Iface}}]
        rules:
          - name: ssh
            proto: tcp
            dport: [22, 2222]
            action: drop
          - name: web
            proto: tcp
            dport: 80
            action: pass
        """;

    /// <summary>V2 with web dropped.</summary>
    private string V3 => V2.Replace("dport: 80\n    action: pass", "dport: 80\n    action: drop");

    private string RulesPath => Path.Combine(_dir, "rules.yaml");

    private string WriteRules(string yaml, string? path = null)
    {
        path ??= RulesPath;
        File.WriteAllText(path, yaml);
        return path;
    }

    private FwdProcess Start(string rulesPath, bool notify = false, params string[] extra)
    {
        var fwd = new FwdProcess(["--rules", rulesPath, .. extra], notify);
        _fwds.Add(fwd);
        return fwd;
    }

    private static XdpAction Verdict(string iface, byte[] frame)
    {
        using var prog = FdHandle.OpenPinned(PinLayout.Prog(iface));
        return BpfObject.TestRun(prog.Fd, frame).Verdict;
    }

    private static void Send(string iface, byte[] frame, int times)
    {
        using var prog = FdHandle.OpenPinned(PinLayout.Prog(iface));
        for (int i = 0; i < times; i++)
            BpfObject.TestRun(prog.Fd, frame);
    }

    /// <summary>fw_meta alone (one map read: never caught between a reload's steps).</summary>
    private static FwMeta Meta(string iface)
    {
        using var map = BpfMap.OpenPinned(PinLayout.Meta(iface));
        return map.Lookup<uint, FwMeta>(0);
    }

    private static ulong Generation(string iface) => Meta(iface).Generation;

    private static string Digest(string iface) => Meta(iface).DigestHex;

    private static string FileDigest(string path) => RulesCheck.Check(path).Image!.Digest();

    /// <summary>Polls until the interface runs a generation above <paramref name="before"/>; returns how long it took.</summary>
    private TimeSpan WaitGeneration(string iface, ulong before, FwdProcess fwd, string what = "change")
    {
        var sw = Stopwatch.StartNew();
        while (sw.Elapsed < TimeSpan.FromSeconds(10))
        {
            if (Generation(iface) > before)
            {
                output.WriteLine($"{what}: generation {Generation(iface)} in force after {sw.Elapsed.TotalMilliseconds:F0} ms");
                return sw.Elapsed;
            }
            Thread.Sleep(5);
        }
        throw new Xunit.Sdk.XunitException($"{iface} still runs generation {before} after 10 s:\n{fwd.Output}");
    }

    private static ulong RuleCount(string iface, string rule) =>
        StatsSnapshot.Read(iface).Rules.Single(r => r.Name == rule).Counter.Total.Packets;

    [Fact]
    public void AttachesAtStartThenReportsReadyAndStopLeavesTheFilter()
    {
        Assert.False(Firewall.IsAttached(Iface));
        using var fwd = Start(WriteRules(V1()), notify: true);
        string ready = fwd.ReceiveNotifyUntil("READY=1", Wait);
        // READY=1 means live: the program is attached and classifies with the file's rules right now.
        Assert.True(Firewall.IsAttached(Iface));
        Assert.NotEqual(0u, Firewall.AttachedProgramId(Iface));
        Assert.Equal(XdpAction.Drop, Verdict(Iface, Ssh));
        Assert.Equal(XdpAction.Pass, Verdict(Iface, Web));
        Assert.Contains($"STATUS={Iface} generation 1 (2 rules)", ready);
        Assert.Equal(1UL, Generation(Iface));
        Assert.Equal(FileDigest(RulesPath), Digest(Iface));
        fwd.WaitReady();
        Assert.Contains($"attach {Iface}: generation 1, 2 rules, native XDP", fwd.Output);

        fwd.Signal(FwdProcess.SigTerm);
        Assert.Contains("STOPPING=1", fwd.ReceiveNotifyUntil("STOPPING=1", Wait));
        Assert.Equal(0, fwd.WaitForExit(Wait));
        Assert.Contains("the filter stays on", fwd.Output);
        Assert.True(Firewall.IsAttached(Iface));
        Assert.Equal(XdpAction.Drop, Verdict(Iface, Ssh));
    }

    [Fact]
    public void EditsAreInForceWithinASecond()
    {
        using var fwd = Start(WriteRules(V1()));
        fwd.WaitReady();
        Assert.Equal(XdpAction.Pass, Verdict(Iface, Ssh2222));

        // Rewritten in place.
        File.WriteAllText(RulesPath, V2);
        var took = WaitGeneration(Iface, 1, fwd, "rewrite");
        Assert.True(took < EditBound, $"rewrite took {took.TotalMilliseconds:F0} ms");
        Assert.Equal(2UL, Generation(Iface));
        Assert.Equal(XdpAction.Drop, Verdict(Iface, Ssh2222));

        // Replaced by rename, as editors and sed -i do.
        string tmp = Path.Combine(_dir, ".rules.yaml.tmp");
        File.WriteAllText(tmp, V3);
        File.Move(tmp, RulesPath, overwrite: true);
        took = WaitGeneration(Iface, 2, fwd, "rename");
        Assert.True(took < EditBound, $"rename took {took.TotalMilliseconds:F0} ms");
        Assert.Equal(3UL, Generation(Iface));
        Assert.Equal(XdpAction.Drop, Verdict(Iface, Web));

        // A change that does not change the ruleset (a comment) reloads nothing.
        int mark = fwd.LineCount;
        File.WriteAllText(RulesPath, "# only a comment is new\n" + V3);
        fwd.WaitForLine("unchanged", Wait, mark);
        Assert.Equal(3UL, Generation(Iface));
    }

    [Fact]
    public void BadEditChangesNothing()
    {
        using var fwd = Start(WriteRules(V1()), extra: ["--metrics", $"127.0.0.1:{FreePort()}"]);
        fwd.WaitReady();
        Send(Iface, Ssh, 3);
        var before = StatsSnapshot.Read(Iface);

        string bad = V1().Replace("action: drop", "action: dorp").Replace("dport: 80", "dport: 70000");
        int mark = fwd.LineCount;
        File.WriteAllText(RulesPath, bad);
        fwd.WaitForLine("the running ruleset stays", Wait, mark);
        // The same diagnostics as fwctl check prints, line for line.
        fwd.WaitForText(CheckDiagnostics(RulesPath), Wait);

        var after = StatsSnapshot.Read(Iface);
        Assert.Equal(before.Generation, after.Generation);
        Assert.Equal(before.Rules.Select(r => (r.Name, r.Counter.Total)), after.Rules.Select(r => (r.Name, r.Counter.Total)));
        Assert.Equal(XdpAction.Drop, Verdict(Iface, Ssh));
        Assert.Equal(XdpAction.Pass, Verdict(Iface, Web));
        Assert.Equal(1UL, Generation(Iface));

        // Valid YAML naming an interface this host does not have: refused as a whole too.
        mark = fwd.LineCount;
        File.WriteAllText(RulesPath, V2.Replace($"[{Iface}]", $"[{Iface}, fwnosuch0]"));
        fwd.WaitForLine("the running ruleset stays", Wait, mark);
        fwd.WaitForText("error: interface 'fwnosuch0' does not exist on this host", Wait);
        Assert.Equal(1UL, Generation(Iface));
        Assert.Equal(XdpAction.Pass, Verdict(Iface, Ssh2222));

        // Fixed: applied.
        File.WriteAllText(RulesPath, V2);
        WaitGeneration(Iface, 1, fwd);
        Assert.Equal(XdpAction.Drop, Verdict(Iface, Ssh2222));
    }

    [Fact]
    public void SighupReloadsTheFile()
    {
        using var fwd = Start(WriteRules(V1()), notify: true);
        fwd.ReceiveNotifyUntil("READY=1", Wait);

        // Someone reloads another ruleset behind fwd's back (fwctl reload): SIGHUP puts the file's back.
        string other = WriteRules(V3, Path.Combine(_dir, "other.yaml"));
        Deployment.Reload(Iface, RulesCheck.Check(other));
        Assert.Equal(2UL, Generation(Iface));
        Assert.Equal(XdpAction.Drop, Verdict(Iface, Web));

        fwd.Signal(FwdProcess.SigHup);
        Assert.Contains("RELOADING=1", fwd.ReceiveNotifyUntil("RELOADING=1", Wait));
        Assert.Contains($"{Iface} generation 3", fwd.ReceiveNotifyUntil("READY=1", Wait));
        Assert.Equal(3UL, Generation(Iface));
        Assert.Equal(FileDigest(RulesPath), Digest(Iface));
        Assert.Equal(XdpAction.Pass, Verdict(Iface, Web));
        fwd.WaitForLine($"reload {Iface} (SIGHUP): generation 2 -> 3", Wait);   // the log is written asynchronously

        // SIGHUP with nothing to change changes nothing, and fwd keeps running.
        int mark = fwd.LineCount;
        fwd.Signal(FwdProcess.SigHup);
        fwd.WaitForLine("unchanged (SIGHUP;", Wait, mark);
        Assert.Equal(3UL, Generation(Iface));
        Assert.False(fwd.HasExited);
    }

    [Fact]
    public void Kill9LeavesTheFilterAndANewFwdContinuesTheCounters()
    {
        WriteRules(V1());
        var first = Start(RulesPath);
        first.WaitReady();
        Send(Iface, Ssh, 5);

        first.Signal(FwdProcess.SigKill);
        Assert.Equal(137, first.WaitForExit(Wait));
        Assert.True(Firewall.IsAttached(Iface));
        Assert.Equal(XdpAction.Drop, Verdict(Iface, Ssh));   // still filtering with fwd gone
        Assert.Equal(6UL, RuleCount(Iface, "ssh"));

        int port = FreePort();
        using var second = Start(RulesPath, extra: ["--metrics", $"127.0.0.1:{port}"]);
        second.WaitReady();
        Assert.Contains($"adopt {Iface}: generation 1 already runs this ruleset", second.Output);
        Assert.Equal(1UL, Generation(Iface));   // adopted, not reloaded
        Assert.Equal(6UL, RuleCount(Iface, "ssh"));
        Send(Iface, Ssh, 1);
        var m = Metrics(port);
        Assert.Equal(7, m[$"fw_rule_packets_total{{interface=\"{Iface}\",rule=\"ssh\",action=\"drop\"}}"]);
        Assert.Equal(1, m[$"fw_generation{{interface=\"{Iface}\"}}"]);
    }

    [Fact]
    public void ANewFwdWithAnotherRulesetReloadsWhatItAdopts()
    {
        WriteRules(V1());
        var first = Start(RulesPath);
        first.WaitReady();
        Send(Iface, Ssh, 2);
        first.Signal(FwdProcess.SigTerm);
        Assert.Equal(0, first.WaitForExit(Wait));

        File.WriteAllText(RulesPath, V2);
        using var second = Start(RulesPath);
        second.WaitReady();
        Assert.Contains($"adopt and reload {Iface}: generation 1 -> 2", second.Output);
        Assert.Equal(2UL, RuleCount(Iface, "ssh"));   // the rule kept its name, so its counter
        Assert.Equal(XdpAction.Drop, Verdict(Iface, Ssh2222));
    }

    /// <summary>
    /// A change made with `fwctl reload --confirm` shows in /metrics with its deadline; when its timer is killed,
    /// fwd reverts it once the deadline has passed, as the timer would have.
    /// </summary>
    [Fact]
    public void AnUnconfirmedChangeShowsAndFwdRevertsItWhenItsTimerIsGone()
    {
        int port = FreePort();
        using var fwd = Start(WriteRules(V1()), extra: ["--metrics", $"127.0.0.1:{port}"]);
        fwd.WaitReady();
        string other = WriteRules(V3, Path.Combine(_dir, "other.yaml"));
        var (o, e) = (new StringWriter(), new StringWriter());
        Assert.True(Fw.Cli.FwctlApp.Run(["reload", Iface, "--rules", other, "--confirm", "2"], o, e) == 0, e.ToString());
        Assert.Equal(2UL, Generation(Iface));
        Assert.Equal(XdpAction.Drop, Verdict(Iface, Web));   // V3 runs
        var pending = Firewall.Pending(Iface)!;
        Thread.Sleep(1100);   // past the snapshot's age
        string i = $"interface=\"{Iface}\"";
        Assert.Equal(pending.Deadline.ToUnixTimeMilliseconds() / 1000.0, Metrics(port)[$"fw_pending_confirm_deadline_timestamp_seconds{{{i}}}"], 3);

        // The timer dies (an OOM kill, say): fwd does its work past the deadline.
        foreach (string d in Directory.GetDirectories("/proc"))
        {
            string cmd;
            try
            {
                cmd = File.ReadAllText(Path.Combine(d, "cmdline")).Replace('\0', ' ');
            }
            catch (IOException)
            {
                continue;
            }
            if (cmd.Contains("confirm-timer") && cmd.Contains(Iface + " "))
                Process.Start("kill", ["-KILL", Path.GetFileName(d)])!.WaitForExit();
        }
        fwd.WaitForText("its timer is gone", TimeSpan.FromSeconds(15));
        Assert.Equal(1UL, Generation(Iface));
        Assert.Equal(XdpAction.Pass, Verdict(Iface, Web));   // V1 again
        Assert.Null(Firewall.Pending(Iface));
        Thread.Sleep(1100);
        Assert.DoesNotContain(Metrics(port).Keys, k => k.StartsWith("fw_pending_confirm", StringComparison.Ordinal));
    }

    [Fact]
    public void MetricsServeTheCounters()
    {
        int port = FreePort();
        using var fwd = Start(WriteRules(V1()), extra: ["--metrics", $"127.0.0.1:{port}"]);
        fwd.WaitReady();
        var start = DateTimeOffset.UtcNow;
        Send(Iface, Ssh, 4);
        Send(Iface, Web, 3);
        byte[] udp = Frame.Udp("198.18.0.1", "198.18.0.2", 1, 9).Build();
        Send(Iface, udp, 2);

        var m = Metrics(port);
        string i = $"interface=\"{Iface}\"";
        Assert.Equal(4, m[$"fw_rule_packets_total{{{i},rule=\"ssh\",action=\"drop\"}}"]);
        Assert.Equal(4 * Ssh.Length, m[$"fw_rule_bytes_total{{{i},rule=\"ssh\",action=\"drop\"}}"]);
        Assert.Equal(3, m[$"fw_rule_packets_total{{{i},rule=\"web\",action=\"pass\"}}"]);
        Assert.Equal(3 * Web.Length, m[$"fw_rule_bytes_total{{{i},rule=\"web\",action=\"pass\"}}"]);
        Assert.Equal(4, m[$"fw_action_packets_total{{{i},action=\"drop\"}}"]);
        Assert.Equal(5, m[$"fw_action_packets_total{{{i},action=\"pass\"}}"]);
        Assert.Equal(0, m[$"fw_action_packets_total{{{i},action=\"redirect\"}}"]);
        Assert.Equal(2, m[$"fw_default_packets_total{{{i}}}"]);
        Assert.Equal(2 * udp.Length, m[$"fw_default_bytes_total{{{i}}}"]);
        Assert.Equal(0, m[$"fw_malformed_packets_total{{{i}}}"]);
        Assert.Equal(0, m[$"fw_non_ip_packets_total{{{i}}}"]);
        Assert.Equal(1, m[$"fw_generation{{{i}}}"]);
        Assert.Equal(1, m[$"fw_attached{{{i}}}"]);
        Assert.Equal(1, m["fw_last_reload_successful"]);
        Assert.InRange(m["fw_last_reload_timestamp_seconds"], start.ToUnixTimeSeconds() - 60, start.ToUnixTimeSeconds() + 1);

        // Per CPU: every CPU listed, and they add up to the totals.
        int cpus = StatsSnapshot.Read(Iface).Cpus;
        var dropPerCpu = m.Where(kv => kv.Key.StartsWith($"fw_cpu_packets_total{{{i},cpu=", StringComparison.Ordinal) && kv.Key.EndsWith("action=\"drop\"}", StringComparison.Ordinal)).ToList();
        Assert.Equal(cpus, dropPerCpu.Count);
        Assert.Equal(4, dropPerCpu.Sum(kv => kv.Value));
        Assert.Equal(4 * Ssh.Length, m.Where(kv => kv.Key.StartsWith($"fw_cpu_bytes_total{{{i},cpu=", StringComparison.Ordinal) && kv.Key.EndsWith("action=\"drop\"}", StringComparison.Ordinal)).Sum(kv => kv.Value));

        // A bad edit shows as a failed reload; the counters stay.
        int mark = fwd.LineCount;
        File.WriteAllText(RulesPath, "rules: [");
        fwd.WaitForLine("the running ruleset stays", Wait, mark);
        m = Metrics(port);
        Assert.Equal(0, m["fw_last_reload_successful"]);
        Assert.Equal(1, m["fw_reloads_total{result=\"failure\"}"]);
        Assert.Equal(4, m[$"fw_rule_packets_total{{{i},rule=\"ssh\",action=\"drop\"}}"]);

        // Only /metrics, only on the address given.
        Assert.Equal(HttpStatusCode.NotFound, Get(port, "/").Status);
        Assert.Equal("text/plain; version=0.0.4; charset=utf-8", Get(port, "/metrics").ContentType);
        using var v6 = new Socket(AddressFamily.InterNetworkV6, SocketType.Stream, ProtocolType.Tcp);
        Assert.ThrowsAny<SocketException>(() => v6.Connect(IPAddress.IPv6Loopback, port));
    }

    [Fact]
    public void DetachOnExitDetaches()
    {
        using var fwd = Start(WriteRules(V1()), extra: ["--detach-on-exit"]);
        fwd.WaitReady();
        Assert.True(Firewall.IsAttached(Iface));
        fwd.Signal(FwdProcess.SigTerm);
        Assert.Equal(0, fwd.WaitForExit(Wait));
        Assert.Contains($"detach {Iface} (--detach-on-exit)", fwd.Output);
        Assert.False(Firewall.IsAttached(Iface));
        Assert.False(Directory.Exists(PinLayout.Dir(Iface)));
        Assert.Equal(0u, Firewall.AttachedProgramId(Iface));
    }

    [Fact]
    public void InvalidRulesOrAMissingInterfaceAtStartAttachNothing()
    {
        string bad = WriteRules(V1().Replace("dport: 22", "dport: 70000").Replace("action: pass", "action: dorp"));
        using (var fwd = Start(bad))
        {
            Assert.Equal(2, fwd.WaitForExit(Wait));
            Assert.Contains(CheckDiagnostics(bad), fwd.Output);
            Assert.Contains($"{bad}: 2 errors, nothing attached", fwd.Output);
        }
        Assert.False(Directory.Exists(PinLayout.Dir(Iface)));

        // Both named, one missing: not even the one that exists is attached.
        string missing = WriteRules(V1(Iface, "fwnosuch0"), Path.Combine(_dir, "missing.yaml"));
        using (var fwd = Start(missing))
        {
            Assert.Equal(2, fwd.WaitForExit(Wait));
            Assert.Contains($"{missing}:1:", fwd.Output);
            Assert.Contains("error: interface 'fwnosuch0' does not exist on this host", fwd.Output);
        }
        Assert.False(Directory.Exists(PinLayout.Dir(Iface)));
        Assert.Equal(0u, Firewall.AttachedProgramId(Iface));
    }

    [Fact]
    public void InterfacesAddedAreAttachedAndRemovedAreDetached()
    {
        var second = new TestVeth();
        _moreVeths.Add(second);
        using var fwd = Start(WriteRules(V1()));
        fwd.WaitReady();
        Assert.False(Firewall.IsAttached(second.Name));

        File.WriteAllText(RulesPath, V1(Iface, second.Name));
        fwd.WaitForLine($"attach {second.Name} (rules.yaml changed)", Wait);
        Assert.True(Firewall.IsAttached(second.Name));
        Assert.Equal(XdpAction.Drop, Verdict(second.Name, Ssh));
        Assert.Equal(1UL, Generation(Iface));   // unchanged where the ruleset is the same

        File.WriteAllText(RulesPath, V1(second.Name));
        fwd.WaitForLine($"detach {Iface} (no longer in interfaces:)", Wait);
        Assert.False(Firewall.IsAttached(Iface));
        Assert.True(Firewall.IsAttached(second.Name));
    }

    [Fact]
    public void ConfigMapSymlinkSwapIsSeen()
    {
        // A Kubernetes ConfigMap volume: rules.yaml -> ..data/rules.yaml, ..data -> ..TIMESTAMP; an update
        // writes a new timestamped directory and renames a new ..data symlink over the old one.
        string vol = Path.Combine(_dir, "configmap");
        Directory.CreateDirectory(Path.Combine(vol, "..2026_01_01_00_00_00.1"));
        File.WriteAllText(Path.Combine(vol, "..2026_01_01_00_00_00.1", "rules.yaml"), V1());
        File.CreateSymbolicLink(Path.Combine(vol, "..data"), "..2026_01_01_00_00_00.1");
        File.CreateSymbolicLink(Path.Combine(vol, "rules.yaml"), "..data/rules.yaml");

        using var fwd = Start(Path.Combine(vol, "rules.yaml"));
        fwd.WaitReady();
        Assert.Equal(XdpAction.Pass, Verdict(Iface, Ssh2222));

        Directory.CreateDirectory(Path.Combine(vol, "..2026_01_01_00_01_00.2"));
        File.WriteAllText(Path.Combine(vol, "..2026_01_01_00_01_00.2", "rules.yaml"), V2);
        File.CreateSymbolicLink(Path.Combine(vol, "..data_tmp"), "..2026_01_01_00_01_00.2");
        Assert.Equal(0, Rename(Path.Combine(vol, "..data_tmp"), Path.Combine(vol, "..data")));
        Directory.Delete(Path.Combine(vol, "..2026_01_01_00_00_00.1"), recursive: true);

        var took = WaitGeneration(Iface, 1, fwd, "..data symlink swap");
        Assert.True(took < EditBound, $"symlink swap took {took.TotalMilliseconds:F0} ms");
        Assert.Equal(XdpAction.Drop, Verdict(Iface, Ssh2222));
    }

    [Fact]
    public void SetFileEditsAreSeen()
    {
        string sets = Path.Combine(_dir, "sets");
        Directory.CreateDirectory(sets);
        File.WriteAllText(Path.Combine(sets, "block.txt"), "198.51.100.0/24\n");
        WriteRules($$"""
            interfaces: [{{Iface}}]
            sets:
              block: { file: sets/block.txt }
            rules:
              - name: blocked
                src: "@block"
                action: drop
            """);
        byte[] fromFeed = Frame.Tcp("203.0.113.9", "198.18.0.2", 40000, 443).Build();
        using var fwd = Start(RulesPath);
        fwd.WaitReady();
        Assert.Equal(XdpAction.Pass, Verdict(Iface, fromFeed));

        File.AppendAllText(Path.Combine(sets, "block.txt"), "203.0.113.0/24\n");
        var took = WaitGeneration(Iface, 1, fwd, "set file edit");
        Assert.True(took < EditBound, $"set file edit took {took.TotalMilliseconds:F0} ms");
        Assert.Equal(XdpAction.Drop, Verdict(Iface, fromFeed));
    }

    /// <summary>Deletes a test pair (both ends go): fw's pinned link stays, defunct.</summary>
    private static void DeletePair(TestVeth v) => TestVeth.Ip("link", "del", v.Name);

    /// <summary>Creates the pair again under the same names (new ifindexes), as TestVeth does (no IPv6, up).</summary>
    private static void CreatePair(TestVeth v)
    {
        TestVeth.Ip("link", "add", v.Name, "type", "veth", "peer", "name", v.Peer);
        foreach (string dev in new[] { v.Name, v.Peer })
            File.WriteAllText($"/proc/sys/net/ipv6/conf/{dev}/disable_ipv6", "1");
        TestVeth.Ip("link", "set", v.Name, "up");
        TestVeth.Ip("link", "set", v.Peer, "up");
    }

    /// <summary>Polls until <paramref name="done"/> holds; false if it did not within <paramref name="bound"/>.</summary>
    private static bool Within(TimeSpan bound, Func<bool> done, out TimeSpan took)
    {
        var sw = Stopwatch.StartNew();
        while (true)
        {
            if (done())
            {
                took = sw.Elapsed;
                return true;
            }
            if (sw.Elapsed > bound)
            {
                took = sw.Elapsed;
                return false;
            }
            Thread.Sleep(10);
        }
    }

    private static uint PinnedLinkId(string iface) => FdHandle.IdOfPinned(PinLayout.Link(iface));

    [Fact]
    public void AnInterfaceDeletedAndCreatedAgainIsAttachedAgain()
    {
        int port = FreePort();
        using var fwd = Start(WriteRules(V1()), extra: ["--metrics", $"127.0.0.1:{port}"]);
        fwd.WaitReady();
        string attached = $"fw_attached{{interface=\"{Iface}\"}}";
        Assert.Equal(1, Metrics(port)[attached]);
        var bound = TimeSpan.FromSeconds(2);

        // Deleted: fw's pinned link is defunct and nothing filters. fwd sees it by itself; the metrics say so.
        int mark = fwd.LineCount;
        DeletePair(_veth);
        Assert.Equal(AttachState.Defunct, Firewall.StateOf(Iface));
        Assert.True(Within(bound, () => Metrics(port)[attached] == 0, out var took),
            $"{took.TotalMilliseconds:F0} ms after the delete /metrics still says {attached} 1:\n{fwd.Output}");
        output.WriteLine($"deleted: fw_attached 0 after {took.TotalMilliseconds:F0} ms");
        fwd.WaitForLine($"{Iface} is gone: fw's pinned XDP link lost its interface, so nothing filters it", Wait, mark);
        for (int i = 0; i < 5; i++)
        {
            Thread.Sleep(100);
            var m = Metrics(port);
            Assert.Equal(0, m[attached]);   // all along the gap, never attached
            Assert.False(m.ContainsKey($"fw_generation{{interface=\"{Iface}\"}}"));
        }
        Assert.Equal(AttachState.Defunct, Firewall.StateOf(Iface));

        // Created again under the same name: attached again within a second or two, on the new interface.
        mark = fwd.LineCount;
        CreatePair(_veth);
        Assert.True(Within(bound, () => Firewall.IsAttached(Iface), out took),
            $"{Iface} not attached again {took.TotalMilliseconds:F0} ms after it came back:\n{fwd.Output}");
        output.WriteLine($"created again: attached after {took.TotalMilliseconds:F0} ms");
        fwd.WaitForLine($"attach {Iface} ({Iface} lost its XDP link): generation 1, 2 rules", Wait, mark);
        Assert.Equal(FdHandle.IdOfPinned(PinLayout.Prog(Iface)), Firewall.AttachedProgramId(Iface));
        // A frame into the new pair is classified by fw, and counted by its rule.
        using (var sender = new Fw.Traffic.PacketSender(_veth.Peer, maxFrame: 128))
            Assert.Equal(1, sender.Send(Ssh).Frames);
        Assert.True(Within(bound, () => RuleCount(Iface, "ssh") == 1, out _), "the frame was not counted by rule ssh");
        Assert.True(Within(bound, () => Metrics(port)[attached] == 1, out _));

        // Deleted and created again at once: found and repaired all the same.
        uint link = PinnedLinkId(Iface);
        mark = fwd.LineCount;
        DeletePair(_veth);
        CreatePair(_veth);
        Assert.True(Within(bound, () => Firewall.IsAttached(Iface) && PinnedLinkId(Iface) != link, out took),
            $"{Iface} not attached again {took.TotalMilliseconds:F0} ms after it was created again:\n{fwd.Output}");
        output.WriteLine($"deleted and created again at once: attached after {took.TotalMilliseconds:F0} ms");
        fwd.WaitForLine($"{Iface}: fw's pinned XDP link lost its interface ({Iface} was deleted and created again", Wait, mark);
        Assert.Equal(FdHandle.IdOfPinned(PinLayout.Prog(Iface)), Firewall.AttachedProgramId(Iface));
        Assert.Equal(XdpAction.Drop, Verdict(Iface, Ssh));
        Assert.True(Within(bound, () => Metrics(port)[attached] == 1, out _));
        Assert.False(fwd.HasExited);
    }

    [Fact]
    public void MetricsAnswerOnlyGetMetrics()
    {
        int port = FreePort();
        using var fwd = Start(WriteRules(V1()), extra: ["--metrics", $"127.0.0.1:{port}"]);
        fwd.WaitReady();
        Assert.Equal(HttpStatusCode.OK, Get(port, "/metrics").Status);
        Assert.Equal(HttpStatusCode.OK, Get(port, "/metrics?name[]=fw_attached").Status);
        foreach (string path in new[] { "/", "/metrics/", "/metrics/x", "/METRICS", "/Metrics", "/metricsx", "/metrics.txt",
                     "/favicon.ico", "/healthz", "//metrics", "/x/../metrics/" })
        {
            var (status, _, body) = Get(port, path);
            Assert.True(status == HttpStatusCode.NotFound, $"GET {path}: {(int)status}");
            Assert.Equal("", body);
        }
        using var http = new HttpClient { Timeout = Wait };
        using var post = http.Send(new HttpRequestMessage(HttpMethod.Post, $"http://127.0.0.1:{port}/metrics"));
        Assert.Equal(HttpStatusCode.MethodNotAllowed, post.StatusCode);
        using var head = http.Send(new HttpRequestMessage(HttpMethod.Head, $"http://127.0.0.1:{port}/metrics"));
        Assert.Equal(HttpStatusCode.OK, head.StatusCode);
    }

    [Fact]
    public async Task ScrapesWithinASecondAreServedFromOneSnapshot()
    {
        int port = FreePort();
        using var fwd = Start(WriteRules(V1()), extra: ["--metrics", $"127.0.0.1:{port}"]);
        fwd.WaitReady();
        string ssh = $"fw_rule_packets_total{{interface=\"{Iface}\",rule=\"ssh\",action=\"drop\"}} ";

        // The first scrape reads the kernel (the snapshot is taken after this clock starts)...
        var sw = Stopwatch.StartNew();
        string first = Get(port, "/metrics").Body;
        var firstDone = sw.Elapsed;   // the snapshot was taken before this
        Assert.Contains(ssh + "0\n", first);
        // ...the counters move...
        Send(Iface, Ssh, 3);
        Assert.Equal(3UL, RuleCount(Iface, "ssh"));
        // ...and scrapes, many at once (fewer than the connection cap), answered within that second, all get the
        // first one's text.
        using var http = new HttpClient { Timeout = Wait };
        var answers = await Task.WhenAll(Enumerable.Range(0, Fw.Daemon.FirewallServiceCollectionExtensions.MaxConnections - 4).Select(async _ =>
        {
            string body = await http.GetStringAsync($"http://127.0.0.1:{port}/metrics");
            return (Body: body, At: sw.Elapsed);
        }));
        var within = answers.Where(a => a.At < FirewallMetricsMaxAge).ToList();
        output.WriteLine($"{within.Count} of {answers.Length} scrapes answered within the second");
        Assert.NotEmpty(within);
        Assert.All(within, a => Assert.Equal(first, a.Body));

        // A second after it was taken, the next scrape reads again.
        while (sw.Elapsed <= firstDone + FirewallMetricsMaxAge)
            await Task.Delay(20);
        Assert.Contains(ssh + "3\n", Get(port, "/metrics").Body);
    }

    private static readonly TimeSpan FirewallMetricsMaxAge = Fw.Daemon.FirewallMetrics.MaxAge;

    /// <summary>One HTTP/1.1 request on an open connection; the status line, or null when the server closed it.</summary>
    private static string? RawGet(Socket s, string path)
    {
        try
        {
            s.Send(System.Text.Encoding.ASCII.GetBytes($"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"));
            var buf = new List<byte>();
            var one = new byte[4096];
            int headerEnd = -1, length = -1;
            while (true)
            {
                int n = s.Receive(one);
                if (n == 0)
                    return null;
                buf.AddRange(one.AsSpan(0, n));
                string text = System.Text.Encoding.ASCII.GetString(buf.ToArray());
                if (headerEnd < 0 && (headerEnd = text.IndexOf("\r\n\r\n", StringComparison.Ordinal)) >= 0)
                {
                    var m = System.Text.RegularExpressions.Regex.Match(text[..headerEnd], @"(?im)^content-length:\s*(\d+)");
                    length = m.Success ? int.Parse(m.Groups[1].Value, CultureInfo.InvariantCulture) : 0;
                }
                if (headerEnd >= 0 && buf.Count >= headerEnd + 4 + length)
                    return text[..text.IndexOf("\r\n", StringComparison.Ordinal)];
            }
        }
        catch (SocketException)
        {
            return null;   // reset
        }
    }

    private static Socket Connect(int port)
    {
        var s = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp) { ReceiveTimeout = (int)Wait.TotalMilliseconds };
        s.Connect(IPAddress.Loopback, port);
        return s;
    }

    [Fact]
    public void MetricsConnectionsAreCapped()
    {
        int port = FreePort();
        using var fwd = Start(WriteRules(V1()), extra: ["--metrics", $"127.0.0.1:{port}"]);
        fwd.WaitReady();
        int cap = Fw.Daemon.FirewallServiceCollectionExtensions.MaxConnections;
        var held = new List<Socket>();
        try
        {
            // As many kept-alive connections as the cap, each served once (so the server counts it).
            for (int i = 0; i < cap; i++)
            {
                var s = Connect(port);
                held.Add(s);
                Assert.Equal("HTTP/1.1 200 OK", RawGet(s, "/metrics"));
            }
            // One more: closed unanswered.
            using (var extra = Connect(port))
                Assert.Null(RawGet(extra, "/metrics"));
            // One goes: a new one is served again.
            held[0].Dispose();
            held.RemoveAt(0);
            Assert.True(Within(Wait, () =>
            {
                using var again = Connect(port);
                return RawGet(again, "/metrics") == "HTTP/1.1 200 OK";
            }, out _));
            // The held ones are still served.
            Assert.Equal("HTTP/1.1 200 OK", RawGet(held[^1], "/metrics"));
        }
        finally
        {
            foreach (var s in held)
                s.Dispose();
        }
    }

    [Fact]
    public void AWildcardMetricsAddressIsWarnedAbout()
    {
        // Invalid rules: fwd exits 2 right after the server started, nothing attached, nothing served.
        string bad = WriteRules("rules: [\n");
        using var fwd = Start(bad, extra: ["--metrics", $"0.0.0.0:{FreePort()}"]);
        Assert.Equal(2, fwd.WaitForExit(Wait));
        Assert.Contains("warn  --metrics 0.0.0.0:", fwd.Output);
        Assert.Contains("reachable from every network this host is on", fwd.Output);

        using var local = Start(bad, extra: ["--metrics", $"127.0.0.1:{FreePort()}"]);
        Assert.Equal(2, local.WaitForExit(Wait));
        Assert.DoesNotContain("every network", local.Output);
    }

    [Fact]
    public void AmbiguousMetricsAddressesAreRefusedBeforeAnythingIsAttached()
    {
        foreach (string ep in new[] { "0:9464", "010.0.0.1:9464", "127.1:9464", "[::1]:09464" })
        {
            using var fwd = Start(WriteRules(V1()), extra: ["--metrics", ep]);
            Assert.Equal(2, fwd.WaitForExit(Wait));
            Assert.Contains($"fwd: --metrics '{ep}': ", fwd.Output);
            Assert.False(Directory.Exists(PinLayout.Dir(Iface)));
        }
    }

    [Fact]
    public void ARedirectTargetCreatedAgainIsReloaded()
    {
        var target = new TestVeth();
        _moreVeths.Add(target);
        WriteRules($$"""
            interfaces: [{{Iface}}]
            rules:
              - name: web
                proto: tcp
                dport: 80
                action: redirect
                to: {{target.Name}}
            """);
        using var fwd = Start(RulesPath);
        fwd.WaitReady();
        int before = NetInterface.Index(target.Name);
        Assert.Equal(before, LiveRuleIfindex(Iface, 0));
        Assert.Equal(XdpAction.Redirect, Verdict(Iface, Web));

        // The target goes and comes back under its name: another ifindex; the running rule sends to the old one.
        DeletePair(target);
        CreatePair(target);
        int after = NetInterface.Index(target.Name);
        Assert.NotEqual(before, after);
        Assert.Equal(XdpAction.Drop, Verdict(Iface, Web));   // a redirect error: nothing filters it through

        // The same file, read again: reloaded (its digest alone says unchanged).
        int mark = fwd.LineCount;
        fwd.Signal(FwdProcess.SigHup);
        string line = fwd.WaitForLine($"reload {Iface} (SIGHUP): generation 1 -> 2", Wait, mark);
        Assert.Contains($"redirect target {target.Name} is ifindex {after} now, rule web sends to ifindex {before}", line);
        Assert.Equal(after, LiveRuleIfindex(Iface, 0));
        Assert.Equal(XdpAction.Redirect, Verdict(Iface, Web));

        // And once more: nothing to do now.
        mark = fwd.LineCount;
        fwd.Signal(FwdProcess.SigHup);
        fwd.WaitForLine("unchanged (SIGHUP;", Wait, mark);
        Assert.Equal(2UL, Generation(Iface));
    }

    /// <summary>The ifindex rule <paramref name="index"/> of the live generation redirects to (its fw_rules entry).</summary>
    private static int LiveRuleIfindex(string iface, uint index)
    {
        using var rules = BpfMap.OpenPinned($"{PinLayout.Generation(iface, Generation(iface))}/fw_rules");
        return (int)rules.Lookup<uint, FwRule>(index).Ifindex;
    }

    /// <summary>The kernel's tag of the live generation's classifier program.</summary>
    private static string LiveTag(string iface)
    {
        using var prog = FdHandle.OpenPinned(Path.Combine(PinLayout.Generation(iface, Generation(iface)), PinLayout.ClassifierPin));
        return BpfObject.ProgramTag(prog.Fd);
    }

    /// <summary>Another build of bpf/fw.bpf.c: the same source for another CPU version (-mcpu=v3), so other instructions.</summary>
    private string OtherClassifierBuild()
    {
        string arch = System.Runtime.InteropServices.RuntimeInformation.OSArchitecture.ToString().ToLowerInvariant()
            .Replace("x64", "x86_64").Replace("arm64", "aarch64");
        string bpf = Path.Combine(FwdProcess.RepoRoot, "bpf");
        string obj = Path.Combine(_dir, "fw-other.bpf.o");
        var p = Process.Start(new ProcessStartInfo("clang",
            ["-O2", "-g", "-Wall", "-target", "bpf", "-mcpu=v3", $"-I/usr/include/{arch}-linux-gnu", $"-I{bpf}",
             "-c", Path.Combine(bpf, "fw.bpf.c"), "-o", obj]) { RedirectStandardError = true })!;
        string err = p.StandardError.ReadToEnd();
        p.WaitForExit();
        Assert.True(p.ExitCode == 0, $"clang: {err}");
        return obj;
    }

    [Fact]
    public void AnotherClassifierBuildIsReloaded()
    {
        // fw attached with another build's classifier (an older fw, say), the same ruleset as the file's.
        string other = OtherClassifierBuild();
        Deployment.Attach(Iface, RulesCheck.Check(WriteRules(V1())), XdpMode.Auto, other);
        string otherTag = LiveTag(Iface);
        Assert.Equal(FileDigest(RulesPath), Digest(Iface));

        // fwd adopts it: same digest, but not its program: reloaded with its own.
        using var fwd = Start(RulesPath);
        fwd.WaitReady();
        string line = fwd.WaitForLine($"adopt and reload {Iface}: generation 1 -> 2", Wait);
        Assert.Contains($"same ruleset but another classifier build (program tag {otherTag} -> ", line);
        string tag = LiveTag(Iface);
        Assert.NotEqual(otherTag, tag);
        Assert.Equal(XdpAction.Drop, Verdict(Iface, Ssh));

        // Its own build running, a SIGHUP changes nothing.
        int mark = fwd.LineCount;
        fwd.Signal(FwdProcess.SigHup);
        fwd.WaitForLine("unchanged (SIGHUP;", Wait, mark);
        Assert.Equal(2UL, Generation(Iface));
        Assert.Equal(tag, LiveTag(Iface));
    }

    /// <summary>What `fwctl check FILE` prints for the file's findings (its summary line left out).</summary>
    private static string CheckDiagnostics(string path)
    {
        var (o, e) = (new StringWriter(), new StringWriter());
        Assert.Equal(2, FwctlApp.Run(["check", path], o, e));
        var lines = e.ToString().ReplaceLineEndings("\n").TrimEnd('\n').Split('\n');
        Assert.EndsWith("nothing loaded", lines[^1]);
        return string.Join("\n", lines[..^1]);
    }

    private static int FreePort()
    {
        var l = new TcpListener(IPAddress.Loopback, 0);
        l.Start();
        int port = ((IPEndPoint)l.LocalEndpoint).Port;
        l.Stop();
        return port;
    }

    private static (HttpStatusCode Status, string? ContentType, string Body) Get(int port, string path)
    {
        using var http = new HttpClient { Timeout = Wait };
        using var response = http.Send(new HttpRequestMessage(HttpMethod.Get, $"http://127.0.0.1:{port}{path}"));
        using var reader = new StreamReader(response.Content.ReadAsStream());
        return (response.StatusCode, response.Content.Headers.ContentType?.ToString(), reader.ReadToEnd());
    }

    /// <summary>GET /metrics, as "name{labels}" → value.</summary>
    private static Dictionary<string, double> Metrics(int port)
    {
        var (status, _, text) = Get(port, "/metrics");
        Assert.Equal(HttpStatusCode.OK, status);
        var d = new Dictionary<string, double>(StringComparer.Ordinal);
        foreach (string line in text.Split('\n'))
        {
            if (line.Length == 0 || line.StartsWith('#'))
                continue;
            int sp = line.LastIndexOf(' ');
            d.Add(line[..sp], double.Parse(line[(sp + 1)..], CultureInfo.InvariantCulture));
        }
        return d;
    }

    [System.Runtime.InteropServices.DllImport("libc", EntryPoint = "rename", SetLastError = true)]
    private static extern int Rename(string from, string to);
}
