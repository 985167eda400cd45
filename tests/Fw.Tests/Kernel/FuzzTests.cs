using System.Text;
using System.Text.RegularExpressions;
using Fw.Compiler;
using Fw.Kernel;
using Fw.Rules;
using Fw.Testing.Random;
using Fw.Testing.Reference;
using Xunit.Abstractions;
using Fw.Bpf;
using Fw.Control;

namespace Fw.Tests.Kernel;

/// <summary>
/// The data plane under bad input: 1,000,000 frames mutated from valid ones (<see cref="FrameMutator"/>:
/// truncated at every length, bytes changed, IHL 0-15, IPv4 and IPv6 versions 0-15, IPv6 extension chains of 0-12
/// headers cut or with wrong lengths, 0-4 VLAN tags, fragments, random bytes, multi-buffer frames whose first
/// buffer ends anywhere in their headers) through BPF_PROG_TEST_RUN, one run per frame,
/// over rules.yaml and random rulesets with every combination of default, malformed and non_ip. No frame
/// may abort, and each verdict and its reason (the rule, default, malformed, non-IP) must be the reference
/// evaluator's. The per-category counts printed show which paths the mutations reached.
/// </summary>
public class FuzzTests(ITestOutputHelper output)
{
    public const int Runs = 40;             // one ruleset each: every fourth rules.yaml, the others generated
    public const int FramesPerRun = 25_000; // 1,000,000 frames through the kernel in all
    public const int SliceCount = 10;
    const int GeneratedSeedBase = 1_000_000; // apart from DifferentialTests' seeds

    public static TheoryData<int> Slices => new(Enumerable.Range(0, SliceCount));

    [Theory]
    [MemberData(nameof(Slices))]
    public void KernelAgreesWithReferenceOnMutatedFrames(int slice)
    {
        const int perSlice = Runs / SliceCount;
        var tally = new Tally();
        for (int run = slice * perSlice; run < (slice + 1) * perSlice; run++)
            RunSeed(run, tally);
        output.WriteLine($"slice {slice}: runs {slice * perSlice}-{(slice + 1) * perSlice - 1}, {tally.Compared:N0} frames through "
            + $"BPF_PROG_TEST_RUN, {tally.ReferenceOnly:N0} under 14 bytes checked by the reference only");
        output.WriteLine(tally.Report());
        Assert.Equal(perSlice * FramesPerRun, tally.Compared);
        tally.AssertCoverage();
    }

    /// <summary>Runs with live sets and limits (generated; entries come from add_to), each <see cref="FramesPerRun"/> frames.</summary>
    public const int LiveRuns = 4;
    const int LiveSeedBase = 2_000_000;

    public static TheoryData<int> LiveSlices => new(Enumerable.Range(0, LiveRuns));

    /// <summary>
    /// Mutated frames over generated rulesets with live sets (in src, dst and add_to targets) and limits (drop and
    /// pass; a few packets a minute, so the time between frames decides nothing): each verdict, its rule, the limits
    /// passed over and whether a limit decided must be the reference's (with its live sets, buckets and the kernel's
    /// clock); afterwards the live sets hold the same entries (add_to's work on the mutated sources).
    /// </summary>
    [Theory]
    [MemberData(nameof(LiveSlices))]
    public void KernelAgreesWithReferenceOnMutatedFramesWithLiveSetsAndLimits(int run)
    {
        int seed = LiveSeedBase + run;
        string yaml = RulesetGenerator.Generate(seed, redirectTo: "lo", new RulesetFeatures { LiveSets = true, Limits = true, SlowLimits = true });
        var check = RulesCheck.Check(RulesLoader.Parse(yaml, $"fuzz-live-{run}.yaml", "."));
        Assert.True(check.Ok, $"run {run}: ruleset rejected:\n{string.Join("\n", check.Diagnostics)}\n{yaml}");
        var rs = check.Ruleset!;
        Assert.True(rs.LiveSets.Any() || rs.UsesLimits, $"run {run}: neither live sets nor limits\n{yaml}");
        using var c = Classifier.Load(check.Image!, new ClassifierOptions { Trace = true });
        var sets = new ReferenceLiveSets(rs);
        var limits = new ReferenceLimits();
        var mutator = new FrameMutator(rs, seed, BpfObject.TestRunMaxLinear);
        int compared = 0, decidedByLimit = 0, passedOver = 0, matched = 0;
        while (compared < FramesPerRun)
        {
            var m = mutator.Next();
            ulong now = KernelClock.CoarseNs();
            var expected = ReferenceEvaluator.Evaluate(rs, m.Bytes, sets, limits, now, m.FirstBuffer);
            if (m.Bytes.Length < 14)
            {
                Assert.Equal(Reason.Malformed, expected.Result.Reason);
                continue;
            }
            var result = BpfObject.TestRun(c.ProgramFd, m.Bytes, linear: m.FirstBuffer);
            var trace = c.ReadTrace();
            compared++;
            bool agrees = result.Verdict != XdpAction.Aborted && DifferentialTests.Agrees(expected.Result, result.Verdict, trace)
                && trace.LimitWithin == expected.LimitsPassedOver && trace.LimitRule == (expected.LimitDecided ? 1u : 0u);
            Assert.True(agrees, $"run {run}, frame {compared}: kernel {result.Verdict} ({(FwReason)trace.Reason}, rule {(int)trace.Rule}, "
                + $"{trace.LimitWithin} limits passed over, limit decided {trace.LimitRule}), reference {expected}\n"
                + $"mutation: {m.Kind} ({m.Variant}): {m.Detail}\nframe: {Convert.ToHexString(m.Bytes)}\n{yaml}");
            decidedByLimit += expected.LimitDecided ? 1 : 0;
            passedOver += expected.LimitsPassedOver;
            matched += expected.Result.Reason == Reason.Rule ? 1 : 0;
        }
        foreach (var set in rs.LiveSets)
        {
            var kernel = c.LiveSet(set.Name).ReadAll().Select(e => e.Prefix).Order().ToList();
            var want = sets.Entries(set.Name).Keys.Order().ToList();
            Assert.True(want.SequenceEqual(kernel), $"run {run}, live set {set.Name}: kernel {string.Join(", ", kernel)}; reference {string.Join(", ", want)}");
        }
        output.WriteLine($"run {run}: {compared:N0} frames, {matched:N0} decided by a rule, {decidedByLimit:N0} by a limit, {passedOver:N0} limits passed over; "
            + string.Join(", ", rs.LiveSets.Select(s => $"@{s.Name} {sets.Entries(s.Name).Count} entries")));
        Assert.True(decidedByLimit + passedOver > 0, $"run {run}: no frame met a limit\n{yaml}");
    }

    /// <summary>A seed gives the same frames every time: what a failure names can be replayed.</summary>
    [Fact]
    public void MutatorIsDeterministic()
    {
        var (yaml, baseDir) = RulesetFor(1);
        var rs = RulesLoader.Parse(yaml, "fuzz-1.yaml", baseDir).Ruleset!;
        FrameMutator a = new(rs, 1), b = new(rs, 1), other = new(rs, 2);
        int differ = 0;
        for (int i = 0; i < 5_000; i++)
        {
            var (x, y, z) = (a.Next(), b.Next(), other.Next());
            Assert.True(x.Bytes.AsSpan().SequenceEqual(y.Bytes) && x.Detail == y.Detail, $"frame {i}: {x.Detail} / {y.Detail}");
            differ += x.Bytes.AsSpan().SequenceEqual(z.Bytes) ? 0 : 1;
        }
        Assert.True(differ > 4_000, $"seeds 1 and 2 gave {5_000 - differ} equal frames of 5,000");
    }

    /// <summary>
    /// Replays one run: FW_REPLAY_SEED=N (the run a failure names) runs its frames again; with
    /// FW_REPLAY_FRAME=HEX only that frame, against that run's ruleset (FW_REPLAY_FIRST=N: in two buffers, the
    /// first of N bytes).
    /// </summary>
    [Fact]
    public void ReplaySeedFromEnvironment()
    {
        string? seed = Environment.GetEnvironmentVariable("FW_REPLAY_SEED");
        string? frame = Environment.GetEnvironmentVariable("FW_REPLAY_FRAME");
        string? first = Environment.GetEnvironmentVariable("FW_REPLAY_FIRST");
        var tally = new Tally();
        Mutant? only = frame is null ? null
            : new Mutant(Convert.FromHexString(frame), Mutation.Valid, "replayed", "FW_REPLAY_FRAME", null) { FirstBuffer = first is null ? null : int.Parse(first) };
        RunSeed(seed is null ? 7 : int.Parse(seed), tally, only);
        Assert.True(tally.Compared > 0);
    }

    /// <summary>
    /// The ruleset of a run: rules/rules.yaml for every fourth run (one in each slice, so every slice sees
    /// rules that leave most frames to the default) and a generated one for the others. The i-th run of
    /// each kind gets combination i mod 8 of default, malformed and non_ip, so both kinds see all 8.
    /// </summary>
    public static (string Yaml, string BaseDir) RulesetFor(int run)
    {
        string yaml, baseDir;
        int i;
        if (run % 4 == 0)
        {
            i = run / 4;
            baseDir = Path.Combine(Daemon.FwdProcess.RepoRoot, "rules");
            yaml = File.ReadAllText(Path.Combine(baseDir, "rules.yaml"));
        }
        else
        {
            i = run - run / 4 - 1;
            baseDir = ".";
            yaml = RulesetGenerator.Generate(GeneratedSeedBase + run, redirectTo: "lo");
        }
        string settings = $"default: {((i & 1) == 0 ? "pass" : "drop")}\n"
            + $"malformed: {((i & 2) == 0 ? "drop" : "pass")}\n"
            + $"non_ip: {((i & 4) == 0 ? "pass" : "drop")}\n";
        return (settings + Regex.Replace(yaml, @"^(default|malformed|non_ip):.*\n", "", RegexOptions.Multiline), baseDir);
    }

    private static void RunSeed(int run, Tally tally, Mutant? only = null)
    {
        var (yaml, baseDir) = RulesetFor(run);
        var loaded = RulesLoader.Parse(yaml, $"fuzz-{run}.yaml", baseDir);
        var check = RulesCheck.Check(loaded);
        Assert.True(check.Ok, $"run {run}: ruleset rejected:\n{string.Join("\n", check.Diagnostics)}\n{yaml}");
        var rs = check.Ruleset!;
        tally.Runs.Add($"run {run}: {(run % 4 == 0 ? "rules.yaml" : $"generated seed {GeneratedSeedBase + run}")}, {rs.Rules.Count} rules, "
            + $"default {rs.Default}, malformed {rs.Malformed}, non_ip {rs.NonIp}".ToLowerInvariant());
        using var c = Classifier.Load(check.Image!, new ClassifierOptions { Trace = true });
        var mutator = new FrameMutator(rs, run, BpfObject.TestRunMaxLinear);
        uint seq = c.ReadTrace().Seq;
        var failures = new List<string>();
        int failed = 0, compared = 0;
        for (int index = 0; only is null ? compared < FramesPerRun : compared == 0; index++)
        {
            var m = only ?? mutator.Next();
            var fields = ReferenceEvaluator.Parse(m.Bytes, m.FirstBuffer);
            var expected = ReferenceEvaluator.Evaluate(rs, m.Bytes, m.FirstBuffer);
            tally.Count(m, fields, expected);
            if (m.Bytes.Length < 14)
            {
                // BPF_PROG_TEST_RUN refuses frames shorter than an Ethernet header (so does every NIC).
                Assert.Equal(Reason.Malformed, expected.Reason);
                tally.ReferenceOnly++;
                continue;
            }

            var result = BpfObject.TestRun(c.ProgramFd, m.Bytes, linear: m.FirstBuffer);
            var trace = c.ReadTrace();
            compared++;
            tally.Compared++;
            tally.Verdicts[result.Verdict] = tally.Verdicts.GetValueOrDefault(result.Verdict) + 1;
            // The trace is this frame's: the program wrote it exactly once since the last frame.
            bool fresh = trace.Seq == seq + 1 && (XdpAction)trace.Verdict == result.Verdict;
            seq = trace.Seq;
            if (result.Verdict != XdpAction.Aborted && fresh && DifferentialTests.Agrees(expected, result.Verdict, trace))
                continue;
            if (++failed <= 5)
                failures.Add(Report(run, index, m, fields, expected, result.Verdict, trace, fresh));
        }
        if (failed > 0)
            Assert.Fail($"run {run}: {failed} of {compared} frames differ from the reference evaluator; the first ones:\n\n"
                + string.Join("\n", failures) + $"\nruleset (fuzz-{run}.yaml, base directory {baseDir}):\n{yaml}");
    }

    private static string Report(int run, int index, Mutant m, PacketFields fields, Result expected, XdpAction verdict,
        FwTrace trace, bool fresh)
    {
        var sb = new StringBuilder();
        sb.AppendLine($"run {run}, frame {index}: kernel said {verdict} ({(FwReason)trace.Reason}, rule {(int)trace.Rule})"
            + $"{(fresh ? "" : ", trace not written for this frame")}, reference said {expected}");
        sb.AppendLine($"mutation: {m.Kind} ({m.Variant}): {m.Detail}");
        sb.AppendLine($"frame ({m.Bytes.Length} bytes{(m.FirstBuffer is int f ? $", the first {f} in the first buffer" : "")}): {Convert.ToHexString(m.Bytes)}");
        if (m.Base is not null)
            sb.AppendLine($"from ({m.Base.Length} bytes): {Convert.ToHexString(m.Base)}");
        sb.AppendLine($"reference parse: {fields}");
        sb.AppendLine($"replay: FW_REPLAY_SEED={run} FW_REPLAY_FRAME={Convert.ToHexString(m.Bytes)}{(m.FirstBuffer is int n ? $" FW_REPLAY_FIRST={n}" : "")} dotnet test tests/Fw.Tests -c Release "
            + "--filter FullyQualifiedName~FuzzTests.ReplaySeedFromEnvironment");
        return sb.ToString();
    }

    /// <summary>How many frames of each mutation, reference outcome and kernel verdict a slice saw.</summary>
    private sealed class Tally
    {
        public int Compared, ReferenceOnly;
        public readonly List<string> Runs = [];
        public readonly Dictionary<XdpAction, int> Verdicts = [];
        readonly Dictionary<Mutation, int> _kinds = [];
        readonly Dictionary<string, int> _variants = [];
        readonly Dictionary<string, int> _outcomes = [];
        readonly Dictionary<string, int> _malformed = [];

        public void Count(Mutant m, PacketFields p, Result r)
        {
            Add(_kinds, m.Kind);
            Add(_variants, $"{m.Kind}: {m.Variant}");
            Add(_outcomes, r.Reason.ToString());
            if (p.Kind == FrameKind.Ip)
                Add(_outcomes, $"IPv{(int)p.Family}{(p.NonFirstFragment ? " non-first fragment" : "")}");
            if (p.Kind == FrameKind.Malformed)
                Add(_malformed, p.Why!.StartsWith(FirstBufferWhy, StringComparison.Ordinal) ? FirstBufferWhy : Regex.Replace(p.Why!, @"\b\d+\b", "N"));
        }

        static void Add<T>(Dictionary<T, int> d, T key) where T : notnull => d[key] = d.GetValueOrDefault(key) + 1;

        public string Report()
        {
            var sb = new StringBuilder();
            foreach (string run in Runs)
                sb.AppendLine(run);
            Section(sb, "mutations", _kinds.ToDictionary(k => k.Key.ToString(), k => k.Value));
            Section(sb, "variants", _variants);
            Section(sb, "reference outcomes", _outcomes);
            Section(sb, "malformed, by the check that failed", _malformed);
            Section(sb, "kernel verdicts", Verdicts.ToDictionary(k => k.Key.ToString(), k => k.Value));
            return sb.ToString();
        }

        static void Section(StringBuilder sb, string title, Dictionary<string, int> counts)
        {
            sb.AppendLine($"{title}:");
            foreach (var (key, n) in counts.OrderBy(k => k.Key, StringComparer.Ordinal))
                sb.AppendLine($"  {key,-48} {n,9:N0}");
        }

        /// <summary>The reference's reason for a frame malformed only for where its first buffer ends.</summary>
        const string FirstBufferWhy = "headers past the first buffer";

        // Every path the mutations are meant to reach, reached often enough in each slice to mean something.
        static readonly string[] MalformedChecks =
        [
            "shorter than the Ethernet header", "shorter than its VLAN tag", "a third VLAN tag",
            "shorter than the IPv4 header", "IPv4 version N", "IPv4 IHL N", "shorter than the IPv4 header with its options",
            "shorter than the IPv6 header", "IPv6 version N", "a ninth IPv6 extension header", "shorter than an IPv6 fragment header",
            "shorter than IPv6 extension header N", "shorter than IPv6 extension header N (N bytes)",
            "shorter than the TCP header", "shorter than the UDP header", "shorter than the ICMP header",
            FirstBufferWhy,
        ];

        public void AssertCoverage()
        {
            foreach (Mutation kind in Enum.GetValues<Mutation>())
                AtLeast(1_000, _kinds.GetValueOrDefault(kind), $"{kind} mutants");
            for (int ihl = 0; ihl < 16; ihl++)
                AtLeast(300, _variants.GetValueOrDefault($"Ihl: ihl={ihl}"), $"frames with IHL {ihl}");
            for (int version = 0; version < 16; version++)
            {
                AtLeast(100, _variants.GetValueOrDefault($"IpVersion: IPv4 version={version}"), $"IPv4 frames of version {version}");
                AtLeast(100, _variants.GetValueOrDefault($"IpVersion: IPv6 version={version}"), $"IPv6 frames of version {version}");
            }
            for (int count = 0; count <= FrameMutator.MaxChain; count++)
                AtLeast(300, _variants.GetValueOrDefault($"ExtChain: headers={count}"), $"chains of {count} extension headers");
            for (int tags = 0; tags <= FrameMutator.MaxTags; tags++)
                AtLeast(800, _variants.GetValueOrDefault($"VlanStack: tags={tags}"), $"frames with {tags} VLAN tags");
            foreach (string f in new[] { "v4 first", "v4 non-first", "v6 first", "v6 non-first" })
                AtLeast(800, _variants.GetValueOrDefault($"Fragment: {f}"), $"{f} fragments");
            foreach (string layer in new[] { "under 14 bytes", "in VLAN tags", "in IP header", "in L4 header", "in payload" })
                AtLeast(200, _variants.GetValueOrDefault($"Truncated: {layer}"), $"frames cut {layer}");
            foreach (string layer in new[] { "in IP header", "in L4 header", "in payload" })
                AtLeast(200, _variants.GetValueOrDefault($"FirstBuffer: {layer}"), $"multi-buffer frames whose first buffer ends {layer}");
            foreach (Reason reason in Enum.GetValues<Reason>())
                AtLeast(1_000, _outcomes.GetValueOrDefault(reason.ToString()), $"{reason} verdicts");
            foreach (string ip in new[] { "IPv4", "IPv6", "IPv4 non-first fragment", "IPv6 non-first fragment" })
                AtLeast(1_000, _outcomes.GetValueOrDefault(ip), $"{ip} frames");
            foreach (string check in MalformedChecks)
                AtLeast(200, _malformed.GetValueOrDefault(check), $"frames malformed by \"{check}\"");
            foreach (var verdict in new[] { XdpAction.Pass, XdpAction.Drop })
                AtLeast(1_000, Verdicts.GetValueOrDefault(verdict), $"{verdict} verdicts");
            AtLeast(100, Verdicts.GetValueOrDefault(XdpAction.Redirect), "Redirect verdicts");
        }

        static void AtLeast(int min, int n, string what) =>
            Assert.True(n >= min, $"only {n:N0} {what} in this slice (want {min:N0}): the mutations miss a path");
    }
}
