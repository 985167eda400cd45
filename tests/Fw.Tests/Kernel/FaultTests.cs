using System.Diagnostics;
using System.Reflection;
using System.Runtime.InteropServices;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using Fw.Cli;
using Fw.Compiler;
using Fw.Kernel;
using Fw.Packets;
using Fw.Rules;
using Fw.Testing.Reference;
using Fw.Tests.Daemon;
using Xunit.Abstractions;
using Fw.Bpf;
using Fw.Control;

namespace Fw.Tests.Kernel;

/// <summary>
/// Faults during a reload, on a real veth:
/// <list type="bullet">
/// <item>a reload that fails midway (a map the kernel refuses to fill further, or a failure after the new
/// generation is pinned or committed) rolls back: generation, fw_progs[0], fw_meta, pins and every counter
/// unchanged, the old generation keeps classifying, and the next reload works;</item>
/// <item>a reload that dies at each step (simulated in process, so each torn state is reached for sure)
/// leaves a working filter whose state readers repair to agree with what classifies;</item>
/// <item>the real <c>fwctl reload</c> SIGKILLed at varied points of a large reload, and several run at once.</item>
/// </list>
/// Every ruleset pair is chosen so that each test frame gets a different verdict from the two, so a verdict
/// vector names the ruleset that produced it; the reference evaluator gives the expected vectors.
/// </summary>
public sealed class FaultTests(FaultTests.LargeRulesets large, ITestOutputHelper output) : IClassFixture<FaultTests.LargeRulesets>, IDisposable
{
    private readonly TestVeth _veth = new();
    private readonly string _dir = Directory.CreateTempSubdirectory("fw-fault-").FullName;
    private readonly List<Process> _children = [];

    private string Iface => _veth.Name;

    public void Dispose()
    {
        // Our own fwctl children first: one still running would hold the lock and pin after the detach.
        foreach (var p in _children)
        {
            try
            {
                if (!p.HasExited)
                    p.Kill();
                p.WaitForExit(10_000);
            }
            catch (InvalidOperationException)
            {
            }
            p.Dispose();
        }
        _veth.Dispose();
        Directory.Delete(_dir, recursive: true);
    }

    // ---- Rulesets and frames ------------------------------------------------------------------------

    public sealed record Rules(string Path, CheckResult Check)
    {
        public Ruleset Ruleset => Check.Ruleset!;
        public string Digest => Check.Image!.Digest();
        public IEnumerable<(string, RuleAction)> RuleList => Ruleset.Rules.Select(r => (r.Name, r.Action));
    }

    private static Rules CheckFile(string path)
    {
        var check = RulesCheck.Check(path);
        Assert.True(check.Ok, string.Join("\n", check.Diagnostics));
        return new Rules(Path.GetFullPath(path), check);
    }

    // Small rulesets for the in-process faults: ~22,000 IPv4 hosts in 198.18.0.0/15 and ~21,000 IPv6
    // prefixes under 2001:db8::/32, used as src and dst, so all four address tries are filled and
    // each needs several pages of some map (a fill can fail midway). The new one adds "fresh" (a fresh
    // counter slot).
    private static string SmallYaml(bool isNew)
    {
        // 198.18.0.0/21 and 2001:db8:0-3e7::/48 (the frames' addresses in the sets), then scattered ones
        // that keep 198.19.0.1 and 2001:db8:ffff::/64 (the frames' addresses outside them) out.
        static uint Scatter(int i, int bits) => (uint)((ulong)i * 2654435761UL % (1UL << bits));
        var v4s = Enumerable.Range(0, 2000).Select(i => $"198.18.{i / 256}.{i % 256}/32")
            .Concat(Enumerable.Range(0, 20_000).Select(i => Scatter(i, 17)).Where(a => a >= 2048 && a != 0x10001)
                .Select(a => $"198.{18 + (a >> 16)}.{(a >> 8) & 255}.{a & 255}/32"))
            .Distinct();
        var v6s = Enumerable.Range(0, 1000).Select(i => $"'2001:db8:{i:x}::/48'")
            .Concat(Enumerable.Range(0, 20_000).Select(i => Scatter(i, 32)).Where(a => a >> 16 is >= 1000 and < 0xffff)
                .Select(a => $"'2001:db8:{a >> 16:x}:{a & 0xffff:x}::/64'"))
            .Distinct();
        string v4 = string.Join(", ", v4s), v6 = string.Join(", ", v6s);
        var (feed, to, web, ssh) = isNew ? (8, 444, "drop", "pass") : (7, 443, "pass", "drop");
        return $$"""
            sets:
              v4: [{{v4}}]
              v6: [{{v6}}]
            rules:
              - { name: feed4, src: '@v4', proto: udp, dport: {{feed}}, action: drop }
              - { name: feed6, src: '@v6', proto: udp, dport: {{feed}}, action: drop }
              - { name: to4, dst: '@v4', proto: tcp, dport: {{to}}, action: drop }
              - { name: to6, dst: '@v6', proto: tcp, dport: {{to}}, action: drop }
              - { name: web, proto: tcp, dport: 80, action: {{web}} }
              - { name: ssh, proto: tcp, dport: 22, action: {{ssh}} }

            """ + (isNew ? "  - { name: fresh, proto: udp, dport: 9, action: drop }\n" : "");
    }

    private const string SmallSpec = "tcp 192.0.2.1:40000 -> 198.19.0.1:80";   // old passes, new drops

    private static readonly byte[][] SmallFrames =
    [
        Frame.Udp("198.18.0.5", "198.19.0.1", 40000, 7).Build(),
        Frame.Udp("198.18.0.5", "198.19.0.1", 40000, 8).Build(),
        Frame.Udp("2001:db8:3::1", "2001:db8:ffff::1", 40000, 7).Build(),
        Frame.Udp("2001:db8:3::1", "2001:db8:ffff::1", 40000, 8).Build(),
        Frame.Tcp("192.0.2.1", "198.18.0.9", 40000, 443).Build(),
        Frame.Tcp("192.0.2.1", "198.18.0.9", 40000, 444).Build(),
        Frame.Tcp("2001:db8:ffff::1", "2001:db8:5::9", 40000, 443).Build(),
        Frame.Tcp("192.0.2.1", "198.19.0.1", 40000, 80).Build(),
        Frame.Tcp("192.0.2.1", "198.19.0.1", 40000, 22).Build(),
        Frame.Udp("192.0.2.1", "198.19.0.1", 40000, 9).Build(),
    ];

    private (Rules Old, Rules New) Small()
    {
        string a = Path.Combine(_dir, "old.yaml"), b = Path.Combine(_dir, "new.yaml");
        File.WriteAllText(a, SmallYaml(isNew: false));
        File.WriteAllText(b, SmallYaml(isNew: true));
        var (old, @new) = (CheckFile(a), CheckFile(b));
        AssertFramesTell(old, @new, SmallFrames);
        return (old, @new);
    }

    /// <summary>
    /// Two large rulesets for the fwctl processes, long enough to load (~0.5 s of kernel work) that a kill
    /// lands inside it: 512 rules and 265,536 prefixes (65,536 IPv4, 200,000 IPv6 in one set file). Every
    /// rule name is in both, so every counter carries over every reload. c.yaml is a.yaml under another name.
    /// </summary>
    public sealed class LargeRulesets : IDisposable
    {
        public const int Rules = 512;
        private readonly Lazy<(Rules A, Rules B, Rules C)> _checked;

        public LargeRulesets()
        {
            Dir = Directory.CreateTempSubdirectory("fw-fault-large-").FullName;
            _checked = new(() =>
            {
                var feed = new StringBuilder();
                for (int i = 0; i < 131_072; i += 2)
                    feed.Append($"198.{18 + (i >> 16)}.{(i >> 8) & 255}.{i & 255}\n");
                for (int i = 0; i < 200_000; i++)
                    feed.Append($"2001:db8:{i >> 16:x}:{i & 0xffff:x}::/64\n");
                File.WriteAllText(Path.Combine(Dir, "feed.txt"), feed.ToString());
                File.WriteAllText(Path.Combine(Dir, "a.yaml"), Yaml(isB: false));
                File.WriteAllText(Path.Combine(Dir, "b.yaml"), Yaml(isB: true));
                File.WriteAllText(Path.Combine(Dir, "c.yaml"), Yaml(isB: false));
                var a = CheckFile(Path.Combine(Dir, "a.yaml"));
                var b = CheckFile(Path.Combine(Dir, "b.yaml"));
                var c = a with { Path = Path.Combine(Dir, "c.yaml") };   // the same text: the same check
                AssertFramesTell(a, b, Frames);
                return (a, b, c);
            });
        }

        public string Dir { get; }
        public Rules A => _checked.Value.A;
        public Rules B => _checked.Value.B;
        public Rules C => _checked.Value.C;

        // A: feed drops udp 7, odd r-N drop; B: feed drops udp 8, even r-N drop. "keep" is the same in both.
        private static string Yaml(bool isB)
        {
            var y = new StringBuilder("sets:\n  feed: { file: feed.txt }\nrules:\n");
            y.Append($"  - {{ name: feed, src: '@feed', proto: udp, dport: {(isB ? 8 : 7)}, action: drop }}\n");
            for (int i = 1; i < Rules - 1; i++)
                y.Append($"  - {{ name: r{i}, proto: udp, dport: {1000 + i}, action: {((i % 2 == 1) != isB ? "drop" : "pass")} }}\n");
            y.Append("  - { name: keep, proto: tcp, dport: 9, action: drop }\n");
            return y.ToString();
        }

        public const string Spec = "udp 192.0.2.1:40000 -> 198.19.0.1:1001";   // A drops, B passes

        public static readonly byte[][] Frames =
        [
            Frame.Udp("198.18.0.2", "198.19.0.1", 40000, 7).Build(),
            Frame.Udp("198.18.0.2", "198.19.0.1", 40000, 8).Build(),
            Frame.Udp("2001:db8:0:5::1", "2001:db8:ffff::1", 40000, 7).Build(),
            Frame.Udp("192.0.2.1", "198.19.0.1", 40000, 1001).Build(),
            Frame.Udp("192.0.2.1", "198.19.0.1", 40000, 1002).Build(),
            Frame.Udp("192.0.2.1", "198.19.0.1", 40000, 1000 + Rules - 2).Build(),
        ];

        // Frames every ruleset here counts under one rule of the same name (none of them is in Frames).
        public static readonly (string Rule, byte[] Frame)[] Counted =
        [
            ("keep", Frame.Tcp("192.0.2.1", "198.19.0.1", 40000, 9).Build()),
            ("r3", Frame.Udp("192.0.2.1", "198.19.0.1", 40000, 1003).Build()),
            ("r4", Frame.Udp("192.0.2.1", "198.19.0.1", 40000, 1004).Build()),
        ];

        public void Dispose() => Directory.Delete(Dir, recursive: true);
    }

    private static XdpAction Expected(Rules rules, byte[] frame) => ReferenceEvaluator.Evaluate(rules.Ruleset, frame).Action switch
    {
        RuleAction.Pass => XdpAction.Pass,
        RuleAction.Drop => XdpAction.Drop,
        _ => XdpAction.Redirect,
    };

    /// <summary>The pair is fit for telling generations apart: every frame gets a different verdict from each.</summary>
    private static void AssertFramesTell(Rules a, Rules b, byte[][] frames)
    {
        foreach (byte[] f in frames)
            Assert.NotEqual(Expected(a, f), Expected(b, f));
    }

    /// <summary>Runs frames through the attached program itself (fw_dispatch, then whatever fw_progs[0] holds).</summary>
    private XdpAction[] RunLive(IEnumerable<byte[]> frames)
    {
        using var prog = FdHandle.OpenPinned(PinLayout.Prog(Iface));
        return frames.Select(f => BpfObject.TestRun(prog.Fd, f).Verdict).ToArray();
    }

    private void AssertClassifiesAs(Rules rules, byte[][] frames, string when)
    {
        var got = RunLive(frames);
        var want = frames.Select(f => Expected(rules, f)).ToArray();
        Assert.True(want.SequenceEqual(got), $"{when}: verdicts [{string.Join(' ', got)}], {Path.GetFileName(rules.Path)} gives [{string.Join(' ', want)}]");
    }

    // ---- The kernel state, read raw (InterfaceState.Open repairs; these do not) ---------------------

    private sealed record Snapshot(ulong Generation, uint Live, byte[] Meta, string[] Pins, (ulong, ulong)[] Counters);

    private FwMeta RawMeta()
    {
        using var m = BpfMap.OpenPinned(PinLayout.Meta(Iface));
        return m.Lookup<uint, FwMeta>(0);
    }

    private Snapshot Take()
    {
        var meta = RawMeta();
        string dir = PinLayout.Dir(Iface);
        var pins = Directory.GetFiles(dir, "*", SearchOption.AllDirectories)
            .Select(p => $"{Path.GetRelativePath(dir, p)}={FdHandle.IdOfPinned(p)}").Order().ToArray();
        using var stats = BpfMap.OpenPinned(PinLayout.Stats(Iface));
        var counters = new List<(ulong, ulong)>();
        for (uint slot = 0; slot < stats.MaxEntries; slot++)
            counters.AddRange(stats.LookupPerCpu<uint, FwCounter>(slot).Select(c => (c.Packets, c.Bytes)));
        return new Snapshot(meta.Generation, Firewall.LiveProgramId(Iface),
            MemoryMarshal.AsBytes(new ReadOnlySpan<FwMeta>(ref meta)).ToArray(), pins, counters.ToArray());
    }

    private static void AssertSame(Snapshot before, Snapshot after)
    {
        Assert.Equal(before.Generation, after.Generation);
        Assert.Equal(before.Live, after.Live);
        Assert.Equal(before.Meta, after.Meta);
        Assert.Equal(before.Pins, after.Pins);
        Assert.True(before.Counters.SequenceEqual(after.Counters), "a counter changed");
    }

    private string[] GenerationDirs() =>
        Directory.GetDirectories(PinLayout.Dir(Iface), "gen-*").Select(Path.GetFileName).Order().ToArray()!;

    private uint ClassifierId(ulong gen) => Firewall.GenerationProgramId(Iface, gen);

    /// <summary>The generation whose classifier fw_progs[0] runs (what really classifies).</summary>
    private ulong LiveGeneration()
    {
        uint live = Firewall.LiveProgramId(Iface);
        Assert.NotEqual(0u, live);
        var gens = GenerationDirs().Select(d => ulong.Parse(d["gen-".Length..])).Where(g => ClassifierId(g) == live).ToList();
        return Assert.Single(gens);
    }

    private void AssertLockFree()
    {
        using var lk = InterfaceLock.Acquire(Iface, TimeSpan.Zero);
    }

    /// <summary>After recovery: meta, fw_progs, pins and stats agree on generation <paramref name="gen"/> running <paramref name="rules"/>.</summary>
    private void AssertConsistent(ulong gen, Rules rules, byte[][] frames, string when)
    {
        var s = StatsSnapshot.Read(Iface);
        Assert.Equal(gen, s.Generation);
        Assert.Equal(ClassifierId(gen), Firewall.LiveProgramId(Iface));
        Assert.Equal(rules.RuleList, s.Rules.Select(r => (r.Name, r.Action)));
        var meta = RawMeta();
        Assert.Equal(rules.Path, meta.FileName);
        Assert.Equal(rules.Digest, meta.DigestHex);
        Assert.Contains($"gen-{gen}", GenerationDirs());
        Assert.Equal(FdHandle.IdOfPinned(PinLayout.Prog(Iface)), Firewall.AttachedProgramId(Iface));
        AssertClassifiesAs(rules, frames, when);
    }

    private static (string Map, int Need, int Errno) LargestPagedMap<TTail>(string prefix, Poptrie<TTail> trie)
        where TTail : unmanaged, IPopTail<TTail>
    {
        var maps = new (string, int)[]
        {
            ($"{prefix}_node", BpfMap.Pages(trie.Nodes.Length, FwPop.NodePage)),
            ($"{prefix}_leaf", BpfMap.Pages(trie.Leaves.Length, FwPop.LeafPage)),
            ($"{prefix}_tail", BpfMap.Pages(trie.Tails.Length, FwPop.TailPage)),
        };
        var (map, pages) = maps.MaxBy(m => m.Item2);
        return (map, pages, 7 /* E2BIG */);
    }

    // ---- Failures roll back ---------------------------------------------------------------------------

    public enum Failure
    {
        FullSrc4Trie,
        FullDst6Trie,
        BitmapsTooSmall,
        AfterPinned,
        AfterCommit,
    }

    [Theory]
    [InlineData(Failure.FullSrc4Trie)]
    [InlineData(Failure.FullDst6Trie)]
    [InlineData(Failure.BitmapsTooSmall)]
    [InlineData(Failure.AfterPinned)]
    [InlineData(Failure.AfterCommit)]
    public void FailedReloadRollsBack(Failure failure)
    {
        var (old, @new) = Small();
        Deployment.Attach(Iface, old.Check, XdpMode.Native);
        Deployment.Reload(Iface, old.Check);   // generation 2: a state with history
        RunLive(SmallFrames.Concat(SmallFrames));      // counters that are not zero
        var before = Take();
        var counted = StatsSnapshot.Read(Iface).Rules.ToDictionary(r => r.Name, r => r.Counter.Total);

        var image = @new.Check.Image!;
        // Half of what the map needs: the kernel writes that many elements, then refuses the next (E2BIG: an
        // index past an ARRAY's max_entries). For a trie, the paged map of it that has the most pages.
        var (map, need, errno) = failure switch
        {
            Failure.FullSrc4Trie => LargestPagedMap("fw_src4", image.Src4!),
            Failure.FullDst6Trie => LargestPagedMap("fw_dst6", image.Dst6!),
            Failure.BitmapsTooSmall => ("fw_bitmaps", image.ClassCount, 7),
            _ => ("", 0, 5 /* EIO */),
        };
        if (map != "")
            Assert.True(need >= 2, $"{map} needs {need} element(s): too few to fail midway");
        using (map != ""
            ? FaultInjection.ArmMapSizes(Iface, new Dictionary<string, int> { [map] = need / 2 })
            : FaultInjection.ArmFailure(Iface, failure == Failure.AfterPinned ? ReloadStep.Pinned : ReloadStep.Committed, errno))
        {
            var e = Assert.Throws<BpfException>(() => Deployment.Reload(Iface, @new.Check));
            Assert.Equal(errno, e.Errno);
            if (map != "")
                Assert.Contains($"update {map} ({need / 2:N0} of ", e.Message);
            output.WriteLine($"{failure}: {e.Message.Split('\n')[0]}");
        }

        AssertSame(before, Take());
        Assert.Equal(["gen-2"], GenerationDirs());
        AssertLockFree();
        AssertConsistent(2, old, SmallFrames, $"after {failure}");

        // The next good reload works, and carries the counters of names that persist.
        var afterVerdicts = StatsSnapshot.Read(Iface).Rules.ToDictionary(r => r.Name, r => r.Counter.Total);
        Assert.True(afterVerdicts["web"].Packets > counted["web"].Packets);
        Assert.Equal(3UL, Deployment.Reload(Iface, @new.Check).Generation);
        Assert.Equal(["gen-3"], GenerationDirs());
        var s = StatsSnapshot.Read(Iface);
        foreach (var r in s.Rules)
            Assert.Equal(r.Name == "fresh" ? default : afterVerdicts[r.Name], r.Counter.Total);
        AssertConsistent(3, @new, SmallFrames, "after the next reload");
    }

    // ---- Crashes leave a working filter ------------------------------------------------------------

    [Theory]
    [InlineData(nameof(ReloadStep.Pinned))]
    [InlineData(nameof(ReloadStep.Committed))]
    [InlineData(nameof(ReloadStep.Switched))]
    public void CrashedReloadLeavesAWorkingFilter(string crashAt)
    {
        var step = Enum.Parse<ReloadStep>(crashAt);
        var (old, @new) = Small();
        Deployment.Attach(Iface, old.Check, XdpMode.Native);
        RunLive(SmallFrames);
        uint oldProg = ClassifierId(1);
        using (FaultInjection.ArmCrash(Iface, step))
            Assert.Throws<FaultInjection.SimulatedCrash>(() => Deployment.Reload(Iface, @new.Check));
        AssertLockFree();

        // What the dead reload left, raw.
        Assert.Equal(["gen-1", "gen-2"], GenerationDirs());
        Assert.True(PinLayout.GenerationMaps.Append(PinLayout.ClassifierPin).All(p => File.Exists(Path.Combine(PinLayout.Generation(Iface, 2), p))));
        ulong metaGen = RawMeta().Generation;
        ulong liveGen = LiveGeneration();
        (ulong, ulong) expectedRaw = step switch
        {
            ReloadStep.Pinned => (1, 1),
            ReloadStep.Committed => (2, 1),   // committed, not switched: the torn state
            _ => (2, 2),
        };
        Assert.Equal(expectedRaw, (metaGen, liveGen));
        AssertClassifiesAs(liveGen == 1 ? old : @new, SmallFrames, $"crash at {step}, before any repair");

        // A reader sees (and, torn, repairs to) meta's generation; then the next reload cleans up.
        var rules = metaGen == 1 ? old : @new;
        AssertConsistent(metaGen, rules, SmallFrames, $"crash at {step}, read");
        Assert.Equal(metaGen == 2 ? ClassifierId(2) : oldProg, Firewall.LiveProgramId(Iface));
        AssertFwctlWorks(metaGen, rules, SmallSpec);
        var next = metaGen == 1 ? @new : old;
        Assert.Equal(metaGen + 1, Deployment.Reload(Iface, next.Check).Generation);
        Assert.Equal([$"gen-{metaGen + 1}"], GenerationDirs());
        AssertConsistent(metaGen + 1, next, SmallFrames, $"crash at {step}, next reload");
    }

    /// <summary>
    /// The state a reload that switched before writing meta (fw before this order) leaves when killed between
    /// the two: the new generation classifies, meta names the old one. Repaired to meta's (still pinned)
    /// generation, and the next reload does not remove what runs.
    /// </summary>
    [Fact]
    public void SwitchedButNotRecordedIsRepaired()
    {
        var (old, @new) = Small();
        Deployment.Attach(Iface, old.Check, XdpMode.Native);
        using (FaultInjection.ArmCrash(Iface, ReloadStep.Pinned))
            Assert.Throws<FaultInjection.SimulatedCrash>(() => Deployment.Reload(Iface, @new.Check));
        using (var progs = BpfMap.OpenPinned(PinLayout.Progs(Iface)))
        using (var gen2 = FdHandle.OpenPinned(Path.Combine(PinLayout.Generation(Iface, 2), PinLayout.ClassifierPin)))
            progs.Update(0u, gen2.Fd);
        Assert.Equal((1UL, 2UL), (RawMeta().Generation, LiveGeneration()));
        AssertClassifiesAs(@new, SmallFrames, "switched, meta not written");

        AssertConsistent(1, old, SmallFrames, "repaired");
        Assert.Equal(2UL, Deployment.Reload(Iface, @new.Check).Generation);
        Assert.Equal(["gen-2"], GenerationDirs());
        AssertConsistent(2, @new, SmallFrames, "next reload");
    }

    /// <summary>fwctl stats, status and test (each reads the state, repairing it if torn) agree on the generation and its rules.</summary>
    private void AssertFwctlWorks(ulong gen, Rules rules, string packetSpec)
    {
        var frame = PacketSpec.Parse(packetSpec).Build();
        var (o0, e0) = (new StringWriter(), new StringWriter());
        Assert.True(FwctlApp.Run(["test", Iface, "--packet", packetSpec, "--json"], o0, e0) == 0, e0.ToString());
        using (var doc = JsonDocument.Parse(o0.ToString()))
        {
            Assert.Equal(gen, doc.RootElement.GetProperty("generation").GetUInt64());
            Assert.Equal(Expected(rules, frame).ToString().ToLowerInvariant(), doc.RootElement.GetProperty("packets")[0].GetProperty("verdict").GetString());
        }
        var (o, e) = (new StringWriter(), new StringWriter());
        Assert.True(FwctlApp.Run(["stats", Iface, "--json"], o, e) == 0, e.ToString());
        using (var doc = JsonDocument.Parse(o.ToString()))
            Assert.Equal(gen, doc.RootElement.GetProperty("generation").GetUInt64());
        (o, e) = (new StringWriter(), new StringWriter());
        Assert.True(FwctlApp.Run(["status", "--json"], o, e) == 0, e.ToString());
        using (var doc = JsonDocument.Parse(o.ToString()))
        {
            var s = doc.RootElement.EnumerateArray().Single(x => x.GetProperty("interface").GetString() == Iface);
            Assert.Equal(gen, s.GetProperty("generation").GetUInt64());
            Assert.True(s.GetProperty("attached").GetBoolean());
        }
    }

    // ---- fwctl as a process: killed, and concurrent --------------------------------------------------

    private static string Fwctl
    {
        get
        {
            string config = typeof(FaultTests).Assembly.GetCustomAttribute<AssemblyConfigurationAttribute>()?.Configuration ?? "Debug";
            string path = Path.Combine(FwdProcess.RepoRoot, "src", "fwctl", "bin", config, "net10.0", "fwctl");
            return File.Exists(path) ? path : throw new FileNotFoundException($"fwctl is not built ({path})");
        }
    }

    private sealed record Child(Process Process, Task<string> Stdout, Task<string> Stderr);

    private Child StartFwctl(params string[] args)
    {
        var psi = new ProcessStartInfo(Fwctl) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (string a in args)
            psi.ArgumentList.Add(a);
        var p = Process.Start(psi)!;
        _children.Add(p);
        return new Child(p, p.StandardOutput.ReadToEndAsync(), p.StandardError.ReadToEndAsync());
    }

    private static (int Exit, string Out, string Err) Wait(Child c)
    {
        Assert.True(c.Process.WaitForExit(60_000), "fwctl did not finish within 60 s");
        return (c.Process.ExitCode, c.Stdout.Result, c.Stderr.Result);
    }

    /// <summary>Whether the process holds the interface lock (its exclusive flock, as /proc/locks lists it).</summary>
    private static bool HoldsLock(int pid, string inode) =>
        File.ReadLines("/proc/locks").Any(l => Regex.IsMatch(l, $@"FLOCK\s+ADVISORY\s+WRITE\s+{pid}\s+\S+:{inode}\s"));

    private string LockInode()
    {
        var p = Process.Start(new ProcessStartInfo("stat", ["-c", "%i", Path.Combine(PinLayout.LockDir, Iface + ".lock")]) { RedirectStandardOutput = true })!;
        string inode = p.StandardOutput.ReadToEnd().Trim();
        p.WaitForExit();
        Assert.Matches(@"^\d+$", inode);
        return inode;
    }

    private static void Until(Func<bool> condition, Child c, string what, bool spin = false)
    {
        var sw = Stopwatch.StartNew();
        while (!condition())
        {
            if (c.Process.HasExited && !condition())
                throw new Xunit.Sdk.XunitException($"fwctl exited ({c.Process.ExitCode}) before {what}: {c.Stderr.Result}");
            if (sw.Elapsed > TimeSpan.FromSeconds(30))
                throw new Xunit.Sdk.XunitException($"fwctl did not reach {what} within 30 s");
            if (spin)
                Thread.Yield();
            else
                Thread.Sleep(1);
        }
    }

    private static void SpinFor(TimeSpan t)
    {
        if (t >= TimeSpan.FromMilliseconds(5))
        {
            Thread.Sleep(t);
            return;
        }
        var sw = Stopwatch.StartNew();
        while (sw.Elapsed < t)
            Thread.SpinWait(20);
    }

    private int _countedRuns;

    /// <summary>Sends the frames every ruleset counts under the same rule name; their counters only grow.</summary>
    private void SendCounted()
    {
        RunLive(LargeRulesets.Counted.Select(c => c.Frame));
        _countedRuns++;
    }

    private void AssertCountersCarriedOver()
    {
        var s = StatsSnapshot.Read(Iface);
        foreach (var (rule, _) in LargeRulesets.Counted)
            Assert.Equal((ulong)_countedRuns, s.Rules.Single(r => r.Name == rule).Counter.Total.Packets);
    }

    [Fact]
    public void KilledFwctlLeavesAWorkingFilter()
    {
        Rules a = large.A, b = large.B;
        Rules Other(Rules r) => r == a ? b : a;
        byte[][] frames = LargeRulesets.Frames;
        // The attach builds the same size of generation as each reload: its time spaces the kills over the build.
        var buildTime = Deployment.Attach(Iface, a.Check, XdpMode.Native).Took;
        string inode = LockInode();
        Rules current = a;
        ulong gen = 1;
        output.WriteLine($"attach: {buildTime.TotalMilliseconds:N0} ms");

        // Kills spread over the build (maps created and filled), then right around the pins, the commit
        // (fw_meta) and the switch. Each waits for its mark in a spin, then for its delay, then kills.
        var kills = new List<(string Name, string Mark, TimeSpan After)>();
        for (int k = 0; k < 4; k++)
            kills.Add(($"lock+{(buildTime * k / 4).TotalMilliseconds:N0}ms", "lock", buildTime * k / 4));
        kills.Add(("classifier pinned", PinLayout.ClassifierPin, TimeSpan.Zero));
        kills.Add(("classifier pinned+1ms", PinLayout.ClassifierPin, TimeSpan.FromMilliseconds(1)));
        kills.Add(("maps pinned", PinLayout.GenerationMaps[^1], TimeSpan.Zero));
        foreach (int us in new[] { 0, 0, 20, 200 })
            kills.Add(($"meta written+{us}us", "meta", TimeSpan.FromMicroseconds(us)));

        var outcomes = new List<string>();
        using var metaMap = BpfMap.OpenPinned(PinLayout.Meta(Iface));
        foreach (var (name, mark, after) in kills)
        {
            var target = Other(current);
            string newDir = PinLayout.Generation(Iface, gen + 1);
            var child = StartFwctl("reload", Iface, "--rules", target.Path);
            if (mark == "lock")
                Until(() => HoldsLock(child.Process.Id, inode), child, "taking the lock");
            else if (mark == "meta")
                Until(() => metaMap.Lookup<uint, FwMeta>(0).Generation != gen, child, "writing fw_meta", spin: true);
            else
                Until(() => File.Exists(Path.Combine(newDir, mark)), child, $"pinning {mark}", spin: true);
            SpinFor(after);
            try
            {
                child.Process.Kill();   // SIGKILL
            }
            catch (InvalidOperationException)
            {
                // It finished first.
            }
            var (exit, _, err) = Wait(child);
            Assert.True(exit is 0 or 137, $"{name}: fwctl exited {exit}: {err}");

            // Raw, before anything repairs: the filter runs one whole generation, the lock is free.
            AssertLockFree();
            ulong metaGen = RawMeta().Generation, liveGen = LiveGeneration();
            Assert.True((metaGen == liveGen && (liveGen == gen || liveGen == gen + 1)) || (metaGen == gen + 1 && liveGen == gen),
                $"{name}: meta names generation {metaGen}, fw_progs runs {liveGen}, was {gen}");
            Assert.Equal(FdHandle.IdOfPinned(PinLayout.Prog(Iface)), Firewall.AttachedProgramId(Iface));
            AssertClassifiesAs(liveGen == gen ? current : target, frames, $"{name}, killed");
            string outcome = exit == 0 ? "finished first"
                : metaGen != liveGen ? "committed, not switched"
                : liveGen == gen + 1 ? (Directory.Exists(PinLayout.Generation(Iface, gen)) ? "switched, old generation not removed" : "switched, old generation removed")
                : Directory.Exists(newDir) ? "old generation, new one partly or wholly pinned"
                : "old generation, nothing pinned";
            outcomes.Add(outcome);
            output.WriteLine($"{name,-12} {outcome}");

            // fwctl stats and status work and agree with meta (repaired if torn); the next reload cleans up.
            (current, gen) = metaGen == gen ? (current, gen) : (target, gen + 1);
            AssertFwctlWorks(gen, current, LargeRulesets.Spec);
            AssertConsistent(gen, current, frames, $"{name}, read");
            SendCounted();
            current = Other(current);
            Assert.Equal(++gen, Deployment.Reload(Iface, current.Check).Generation);
            Assert.Equal([$"gen-{gen}"], GenerationDirs());
            AssertConsistent(gen, current, frames, $"{name}, next reload");
            AssertCountersCarriedOver();
        }
        output.WriteLine(string.Join(", ", outcomes.GroupBy(o => o).Select(g => $"{g.Count()} {g.Key}")));
        // Kills landed on both sides of the commit (the instant between commit and switch is the crash test's).
        Assert.Contains(outcomes, o => o.StartsWith("old generation", StringComparison.Ordinal));
        Assert.Contains(outcomes, o => o.StartsWith("switched", StringComparison.Ordinal) || o.StartsWith("committed", StringComparison.Ordinal));
    }

    [Fact]
    public void ConcurrentReloadsAreSerialized()
    {
        Rules[] files = [large.A, large.B, large.C];
        byte[][] frames = LargeRulesets.Frames;
        Deployment.Attach(Iface, large.A.Check, XdpMode.Native);
        ulong gen = 1;

        // A reader all along: every read is one consistent generation, never an error.
        using var stop = new CancellationTokenSource();
        int reads = 0;
        Exception? readerError = null;
        var reader = new Thread(() =>
        {
            try
            {
                ulong last = 0;
                while (!stop.IsCancellationRequested)
                {
                    var s = StatsSnapshot.Read(Iface);
                    Assert.True(s.Generation >= last, $"generation went back from {last} to {s.Generation}");
                    var list = s.Rules.Select(r => (r.Name, r.Action)).ToList();
                    Assert.True(list.SequenceEqual(large.A.RuleList) || list.SequenceEqual(large.B.RuleList), $"generation {s.Generation}: a rule list of neither ruleset");
                    last = s.Generation;
                    reads++;
                    Thread.Sleep(20);
                }
            }
            catch (Exception e)
            {
                readerError = e;
            }
        }) { IsBackground = true, Name = "stats reader" };
        reader.Start();

        const int Rounds = 3;
        try
        {
            for (int round = 0; round < Rounds; round++)
            {
                SendCounted();
                var children = files.Select(f => (Rules: f, Child: StartFwctl("reload", Iface, "--rules", f.Path, "--json"))).ToList();
                var results = children.Select(c => (c.Rules, Result: Wait(c.Child))).ToList();
                foreach (var (rules, r) in results)
                    Assert.True(r.Exit == 0, $"round {round}, {Path.GetFileName(rules.Path)}: exit {r.Exit}: {r.Err}");
                var reported = results.Select(r =>
                {
                    using var doc = JsonDocument.Parse(r.Result.Out);
                    Assert.Equal(r.Rules.Path, doc.RootElement.GetProperty("rules_file").GetString());
                    Assert.Equal(r.Rules.Digest, doc.RootElement.GetProperty("digest").GetString());
                    return (r.Rules, Generation: doc.RootElement.GetProperty("generation").GetUInt64());
                }).ToList();
                // Serialized: each saw the one before, so the generations are gen+1..gen+3, each once.
                Assert.Equal(Enumerable.Range(1, files.Length).Select(i => gen + (ulong)i), reported.Select(r => r.Generation).Order());
                gen += (ulong)files.Length;
                var last = reported.Single(r => r.Generation == gen).Rules;
                Assert.Equal(gen, RawMeta().Generation);
                Assert.Equal([$"gen-{gen}"], GenerationDirs());
                AssertConsistent(gen, last, frames, $"round {round}, last {Path.GetFileName(last.Path)}");
                AssertCountersCarriedOver();
                output.WriteLine($"round {round}: {string.Join(", ", reported.OrderBy(r => r.Generation).Select(r => $"{Path.GetFileName(r.Rules.Path)} -> {r.Generation}"))}");
            }
        }
        finally
        {
            stop.Cancel();
            reader.Join();
        }
        Assert.Null(readerError);
        Assert.True(reads > 0);
        output.WriteLine($"{reads} consistent stats reads during the reloads");
    }
}
