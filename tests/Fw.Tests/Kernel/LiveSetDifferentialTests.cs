using System.Text;
using Fw.Bpf;
using Fw.Compiler;
using Fw.Kernel;
using Fw.Packets;
using Fw.Rules;
using Fw.Testing;
using Fw.Testing.Random;
using Fw.Testing.Reference;
using Xunit.Abstractions;

namespace Fw.Tests.Kernel;

/// <summary>
/// The kernel program against the reference evaluator with issue 15's live sets and limits: random rulesets with
/// live sets in src and dst, add_to and limits (drop and pass, per src, src/N and rule), their sets filled before the
/// frames with entries live, expired and never expiring, nested (sometimes nine deep, past FW_SET_NEST), and random
/// frames aimed at the rules and the entries. Every verdict, rule, membership bit and limit passed over must be
/// equal, and afterwards the sets' entries (add_to), their counters and the limit counters.
///
/// Time: the reference reads the same clock as the program (CLOCK_MONOTONIC_COARSE) before each frame. Entries
/// expire minutes away from it and limits allow a few packets a minute (<see cref="RulesetFeatures.SlowLimits"/>), so
/// the time a ruleset's frames take cannot change an outcome; one test (<see cref="AnEntryStopsMatchingTheMomentItExpires"/>)
/// crosses an expiry on purpose. Rulesets are compiled from the model (their YAML keys are another test's).
/// </summary>
public class LiveSetDifferentialTests(ITestOutputHelper output)
{
    public const int Rulesets = 100;
    public const int FramesPerRuleset = 200;   // 20,000 frames in all

    const ulong S = 1_000_000_000UL;

    static readonly RulesetFeatures Features = new() { LiveSets = true, Limits = true, SlowLimits = true };

    public static TheoryData<int> Slices => new(Enumerable.Range(0, 10));

    [Theory]
    [MemberData(nameof(Slices))]
    public void KernelAgreesWithReference(int slice)
    {
        int perSlice = Rulesets / 10;
        var total = new Tally();
        for (int seed = slice * perSlice; seed < (slice + 1) * perSlice; seed++)
            total.Add(RunSeed(seed));
        output.WriteLine($"slice {slice}: {perSlice} rulesets, {total}");
        Assert.Equal(perSlice * FramesPerRuleset, total.Frames);
    }

    /// <summary>Across all slices' seeds the interesting cases happen: a test that compared only defaults would pass too.</summary>
    [Fact]
    public void TheRandomCasesReachLiveSetsLimitsAndAddTo()
    {
        var total = new Tally();
        for (int seed = 0; seed < Rulesets; seed += 5)
            total.Add(RunSeed(seed));
        output.WriteLine(total.ToString());
        Assert.True(total.InSrcSet > 0 && total.InDstSet > 0, total.ToString());
        Assert.True(total.LimitDecided > 0 && total.LimitPassedOver > 0, total.ToString());
        Assert.True(total.Added > 0 && total.Refreshed + total.Full > 0, total.ToString());
    }

    /// <summary>Replays one seed: set FW_REPLAY_SEED to debug a failure.</summary>
    [Fact]
    public void ReplaySeedFromEnvironment()
    {
        string? seed = Environment.GetEnvironmentVariable("FW_REPLAY_SEED");
        Assert.Equal(FramesPerRuleset, RunSeed(seed is null ? 4242 : int.Parse(seed)).Frames);
    }

    /// <summary>What a run compared and how often the cases this test is for came up.</summary>
    sealed class Tally
    {
        public int Frames, Short, InSrcSet, InDstSet, LimitDecided, LimitPassedOver;
        public long Added, Refreshed, Full;

        public void Add(Tally t)
        {
            Frames += t.Frames; Short += t.Short; InSrcSet += t.InSrcSet; InDstSet += t.InDstSet;
            LimitDecided += t.LimitDecided; LimitPassedOver += t.LimitPassedOver;
            Added += t.Added; Refreshed += t.Refreshed; Full += t.Full;
        }

        public override string ToString() =>
            $"{Frames} frames compared ({Short} under 14 bytes by the reference only); source in a live set {InSrcSet}, "
            + $"destination {InDstSet}; decided by a limit {LimitDecided}, limits passed over {LimitPassedOver}; "
            + $"add_to added {Added}, refreshed {Refreshed}, full {Full}";
    }

    static Tally RunSeed(int seed)
    {
        var g = RulesetGenerator.GenerateWithModel(seed, redirectTo: "lo", features: Features);
        // Through the reader: the YAML as an operator writes it (dynamic sets, limit, add_to), not the model alone.
        var rs = RulesLoader.Parse(g.Yaml, $"generated-{seed}.yaml", Path.GetTempPath()).RulesetOrThrow();
        using var c = Classifier.Load(RulesetCompiler.Compile(rs), new ClassifierOptions { Trace = true });
        var sets = new ReferenceLiveSets(rs);
        var limits = new ReferenceLimits();
        var rng = new System.Random(seed);
        var tally = new Tally();

        ulong start = KernelClock.CoarseNs();
        var put = new Dictionary<string, IReadOnlyList<IpPrefix>>();
        foreach (var set in rs.LiveSets)
            put[set.Name] = Fill(rng, set, c.LiveSet(set.Name), sets, start, Sources(rs));

        // Slots as the data plane numbers them: the sets rules name in the field, in name order.
        var srcSlots = FieldSets(rs, r => r.Src);
        var dstSlots = FieldSets(rs, r => r.Dst);

        var gen = new FrameGenerator(rs, seed, put);
        while (tally.Frames < FramesPerRuleset)
        {
            int? first = null;
            byte[] frame;
            if (tally.Frames % 4 == 3)
                (frame, first) = gen.NextMultiBuffer(BpfObject.TestRunMaxLinear);
            else
                frame = gen.Next();
            if (frame.Length < 14)
            {
                // BPF_PROG_TEST_RUN refuses frames shorter than an Ethernet header.
                Assert.Equal(Reason.Malformed, ReferenceEvaluator.Evaluate(rs, frame, sets, limits, KernelClock.CoarseNs(), first).Result.Reason);
                tally.Short++;
                continue;
            }

            ulong now = KernelClock.CoarseNs();
            var fields = ReferenceEvaluator.Parse(frame, first);
            uint wantSrc = 0, wantDst = 0;
            if (fields.Kind == FrameKind.Ip)
            {
                wantSrc = Membership(sets, srcSlots, fields.Family, fields.Src, now);
                wantDst = Membership(sets, dstSlots, fields.Family, fields.Dst, now);
            }
            var expected = ReferenceEvaluator.Evaluate(rs, frame, sets, limits, now, first);
            var run = BpfObject.TestRun(c.ProgramFd, frame, linear: first);
            var trace = c.ReadTrace();
            bool agrees = DifferentialTests.Agrees(expected.Result, run.Verdict, trace)
                && trace.SrcSets == wantSrc && trace.DstSets == wantDst
                && trace.LimitWithin == expected.LimitsPassedOver && trace.LimitRule == (expected.LimitDecided ? 1u : 0u);
            if (!agrees)
            {
                Assert.Fail(Report(seed, g.Yaml, put, frame, first, $"{expected}, src sets {wantSrc:x}, dst sets {wantDst:x}",
                    $"{run.Verdict} ({(FwReason)trace.Reason}, rule {(int)trace.Rule}), {trace.LimitWithin} limits passed over"
                    + $"{(trace.LimitRule != 0 ? ", decided by its limit" : "")}, src sets {trace.SrcSets:x}, dst sets {trace.DstSets:x}"));
            }
            tally.Frames++;
            tally.InSrcSet += wantSrc != 0 ? 1 : 0;
            tally.InDstSet += wantDst != 0 ? 1 : 0;
            tally.LimitDecided += expected.LimitDecided ? 1 : 0;
            tally.LimitPassedOver += expected.LimitsPassedOver;
        }
        ulong end = KernelClock.CoarseNs();

        // add_to's work: the same entries, expiries a timeout after the frame that wrote them (the two clocks' reads
        // of it lie within the run), the same counters.
        foreach (var set in rs.LiveSets)
        {
            var kernel = c.LiveSet(set.Name).ReadAll().ToDictionary(e => e.Prefix, e => e.ExpiresNs);
            var want = sets.Entries(set.Name);
            string where = $"seed {seed}, live set {set.Name}";
            Assert.True(want.Keys.Order().SequenceEqual(kernel.Keys.Order()),
                $"{where}: kernel has {string.Join(", ", kernel.Keys.Order())}; reference {string.Join(", ", want.Keys.Order())}\n{g.Yaml}");
            foreach (var (prefix, expires) in want)
            {
                ulong k = kernel[prefix];
                Assert.True(k == expires || (k != 0 && expires != 0 && (k > expires ? k - expires : expires - k) <= end - start),
                    $"{where}: {prefix} expires at {k} in the kernel, {expires} in the reference (run {start}..{end})");
            }
            var counters = (c.LiveSet(set.Name).Counter(FwSetCounter.Added), c.LiveSet(set.Name).Counter(FwSetCounter.Refreshed),
                c.LiveSet(set.Name).Counter(FwSetCounter.Full));
            Assert.Equal(((ulong)sets.AddedCount(set.Name), (ulong)sets.RefreshedCount(set.Name), (ulong)sets.FullCount(set.Name)), counters);
            tally.Added += sets.AddedCount(set.Name);
            tally.Refreshed += sets.RefreshedCount(set.Name);
            tally.Full += sets.FullCount(set.Name);
        }
        Assert.Equal((ulong)limits.Over, c.ReadCounter((uint)FwStatSlot.LimitOver).Packets);
        Assert.Equal((ulong)limits.Within, c.ReadCounter((uint)FwStatSlot.LimitUnder).Packets);
        return tally;
    }

    /// <summary>Expiries relative to now, minutes from it and from every timeout's refresh boundary (timeouts 60 s, 600 s, 3600 s).</summary>
    static readonly long[] ExpiryOffsets = [-600, -60, 90, 450, 1800, 7200];

    /// <summary>
    /// Entries for a live set, put in the kernel and the reference alike: nested chains around a random address (each
    /// link live, expired or never expiring), sometimes nine deep with the eight longest expired, and loose prefixes;
    /// never more than the set's max (a kernel before 6.13 refuses to replace an entry of a full trie).
    /// </summary>
    static List<IpPrefix> Fill(System.Random rng, PrefixSet set, LiveSetMap map, ReferenceLiveSets sets, ulong now, List<IpPrefix> sources)
    {
        var put = new List<IpPrefix>();
        int budget = Math.Min(set.Max, 3 + rng.Next(12));
        void Put(IpPrefix p, ulong expires)
        {
            if (put.Count >= budget || put.Contains(p))
                return;
            Assert.Equal(sets.Add(set.Name, p, expires), map.Put(p, expires, now));
            put.Add(p);
        }
        ulong Expiry() => rng.Next(4) == 0 ? 0 : (ulong)((long)now + ExpiryOffsets[rng.Next(ExpiryOffsets.Length)] * (long)S) + (ulong)rng.Next(20) * S;
        ulong Expired() => now - (ulong)(60 + rng.Next(600)) * S;

        if (set.Max >= 9 && rng.Next(3) == 0)
        {
            // Nine nested, the eight longest expired: the live one is past FW_SET_NEST.
            var family = rng.Next(2) == 0 ? IpFamily.V4 : IpFamily.V6;
            var address = AddressPools.Address(rng, family);
            int top = family == IpFamily.V4 ? 32 : 128;
            for (int len = top; len > top - 8; len--)
                Put(IpPrefix.Create(family, address, len), Expired());
            Put(IpPrefix.Create(family, address, top - 8 - rng.Next(8)), rng.Next(2) == 0 ? 0 : now + 3600 * S);
        }
        while (put.Count < budget)
        {
            var family = rng.Next(2) == 0 ? IpFamily.V4 : IpFamily.V6;
            if (rng.Next(3) == 0)
            {
                Put(AddressPools.Prefix(rng, family), Expiry());
                continue;
            }
            var address = AddressPools.Address(rng, family);
            bool host = false;
            if (sources.Count > 0 && rng.Next(2) == 0)
            {
                // A source frames come from (aimed at a rule's src): add_to may meet its host entry.
                var source = sources[rng.Next(sources.Count)];
                (family, address, host) = (source.Family, source.Bits, true);
            }
            int[] lengths = family == IpFamily.V4 ? [8, 15, 16, 20, 24, 28, 31, 32] : [32, 48, 56, 64, 96, 120, 127, 128];
            foreach (int len in lengths.Where(l => rng.Next(2) == 0 || (host && l == lengths[^1])))
                Put(IpPrefix.Create(family, address, len), Expiry());
        }
        return put;
    }

    /// <summary>The first and last addresses of the prefixes rules name in src: sources the frame generator favours.</summary>
    static List<IpPrefix> Sources(Ruleset rs) =>
        rs.Rules.SelectMany(r => r.Src?.AllPrefixes() ?? [])
            .SelectMany(p => new[] { p.Bits, p.Bits | (~IpPrefix.MaskOf(p.Length) & IpPrefix.MaskOf(p.MaxLength)) }
                .Select(a => IpPrefix.Create(p.Family, a, p.MaxLength)))
            .Distinct().Order().ToList();

    /// <summary>The live sets rules name in a field, in name order: the field's slots.</summary>
    static List<string> FieldSets(Ruleset rs, Func<Rule, AddressMatch?> field) =>
        rs.Rules.SelectMany(r => field(r)?.Sets ?? []).Where(s => s.Dynamic).Select(s => s.Name).Distinct().Order(StringComparer.Ordinal).ToList();

    static uint Membership(ReferenceLiveSets sets, List<string> slots, IpFamily family, UInt128 address, ulong now)
    {
        uint m = 0;
        for (int j = 0; j < slots.Count; j++)
            if (sets.Contains(slots[j], family, address, now))
                m |= 1u << j;
        return m;
    }

    static string Report(int seed, string yaml, Dictionary<string, IReadOnlyList<IpPrefix>> put, byte[] frame, int? first,
        string expected, string kernel)
    {
        var sb = new StringBuilder();
        sb.AppendLine($"seed {seed}: kernel said {kernel}; reference said {expected}");
        sb.AppendLine($"frame ({frame.Length} bytes{(first is int f ? $", the first {f} in the first buffer" : "")}): {Convert.ToHexString(frame)}");
        sb.AppendLine($"parsed: {ReferenceEvaluator.Parse(frame, first)}");
        foreach (var (name, prefixes) in put)
            sb.AppendLine($"live set {name} filled with: {string.Join(", ", prefixes)}");
        sb.AppendLine($"replay: FW_REPLAY_SEED={seed} dotnet test --filter \"FullyQualifiedName~LiveSetDifferentialTests.ReplaySeedFromEnvironment\"");
        sb.AppendLine("ruleset:");
        sb.Append(yaml);
        return sb.ToString();
    }

    // ---- Across an expiry -------------------------------------------------------------------------

    static IpPrefix P(string s) => PrefixParser.TryParse(s, out IpPrefix p) == PrefixError.None ? p : throw new ArgumentException(s);

    /// <summary>
    /// An entry expiring 300 ms ahead matches until then and not after, in the kernel and the reference alike; so does
    /// the live entry under it, a moment longer; an expired entry over both is looked past throughout.
    /// </summary>
    [Fact]
    public void AnEntryStopsMatchingTheMomentItExpires()
    {
        var live = new PrefixSet { Name = "live", Prefixes = [], Pos = new("t.yaml", 1, 1), Dynamic = true, Timeout = 600, Max = 16 };
        var rs = new Ruleset
        {
            File = "t.yaml", Sets = new Dictionary<string, PrefixSet> { ["live"] = live },
            Rules =
            [
                new Rule { Index = 0, Name = "in-live", Pos = live.Pos, Action = RuleAction.Drop,
                    Src = new AddressMatch { Prefixes = [], Sets = [live] } },
            ],
        };
        using var c = Classifier.Load(RulesetCompiler.Compile(rs), new ClassifierOptions { Trace = true });
        var sets = new ReferenceLiveSets(rs);
        var limits = new ReferenceLimits();
        ulong now = KernelClock.CoarseNs();
        ulong soon = now + 300_000_000, later = now + 600_000_000;
        foreach (var (prefix, expires) in new[] { (P("198.18.7.0/24"), soon), (P("198.18.0.0/16"), later), (P("198.18.7.128/25"), now - 1),
            (P("2001:db8::/64"), soon) })
        {
            Assert.True(c.LiveSet("live").Put(prefix, expires, now));
            Assert.True(sets.Add("live", prefix, expires));
        }
        byte[] v4 = Frame.Udp("198.18.7.200", "192.0.2.1", 53, 53).Build();
        byte[] v6 = Frame.Udp("2001:db8::7", "2001:db8:1::1", 53, 53).Build();

        RuleAction Both(byte[] frame)
        {
            ulong t = KernelClock.CoarseNs();
            var want = ReferenceEvaluator.Evaluate(rs, frame, sets, limits, t).Result;
            var run = c.TestRun(frame);
            var trace = c.ReadTrace();
            Assert.True(DifferentialTests.Agrees(want, run.Verdict, trace), $"at {t} ({(long)(t - now) / 1_000_000} ms): kernel {run.Verdict}, reference {want}");
            return want.Action;
        }

        Assert.Equal(RuleAction.Drop, Both(v4));
        Assert.Equal(RuleAction.Drop, Both(v6));
        WaitUntil(soon);
        Assert.Equal(RuleAction.Drop, Both(v4));   // the /16 under the expired /24 and /25
        Assert.Equal(RuleAction.Pass, Both(v6));
        WaitUntil(later);
        Assert.Equal(RuleAction.Pass, Both(v4));
        Assert.Equal(RuleAction.Pass, Both(v6));
    }

    /// <summary>
    /// add_to into entries put before: an expired one is added again, one a second or more short of the new expiry
    /// and one that would never expire are refreshed, one less than a second short, one later and one that never
    /// expires stay; a new source into the full set is refused. Kernel and reference alike, entries and counters.
    /// </summary>
    [Fact]
    public void AddToRefreshesAndRefusesAsTheReferenceSays()
    {
        var pos = new SourcePos("t.yaml", 1, 1);
        var banned = new PrefixSet { Name = "banned", Prefixes = [], Pos = pos, Dynamic = true, Timeout = 600, Max = 7 };
        var forever = new PrefixSet { Name = "forever", Prefixes = [], Pos = pos, Dynamic = true, Timeout = null, Max = 3 };
        var rs = new Ruleset
        {
            File = "t.yaml", Sets = new Dictionary<string, PrefixSet> { ["banned"] = banned, ["forever"] = forever },
            Rules =
            [
                new Rule { Index = 0, Name = "ban", Pos = pos, Action = RuleAction.Pass, Proto = [Ruleset.ProtoUdp], AddTo = banned },
                new Rule { Index = 1, Name = "keep", Pos = pos, Action = RuleAction.Drop, Proto = [Ruleset.ProtoTcp], AddTo = forever },
            ],
        };
        using var c = Classifier.Load(RulesetCompiler.Compile(rs), new ClassifierOptions { Trace = true });
        var sets = new ReferenceLiveSets(rs);
        var limits = new ReferenceLimits();
        ulong now = KernelClock.CoarseNs();
        (string Set, string Host, ulong Expires)[] entries =
        [
            ("banned", "198.18.0.1", now - S),                  // expired: added again
            ("banned", "198.18.0.2", now + 598 * S),            // the new expiry is 2 s later: refreshed
            ("banned", "198.18.0.3", now + 599 * S + S * 9 / 10), // 0.1 s later: stays
            ("banned", "198.18.0.4", now + 700 * S),            // earlier: stays
            ("banned", "2001:db8::5", 0),                       // never expires: stays
            ("banned", "198.18.0.0/24", now + 3600 * S),        // covers the new ones, is not theirs
            ("forever", "198.18.0.7", now + 3600 * S),          // the new expiry is never: refreshed
            ("forever", "198.18.0.8", 0),
        ];
        foreach (var (set, host, expires) in entries)
        {
            var p = P(host);
            Assert.True(c.LiveSet(set).Put(p, expires, now));
            Assert.True(sets.Add(set, p, expires));
        }
        string[] udp = ["198.18.0.1", "198.18.0.2", "198.18.0.3", "198.18.0.4", "2001:db8::5", "198.18.0.9", "198.18.0.10", "2001:db8::11"];
        string[] tcp = ["198.18.0.7", "198.18.0.8", "198.18.0.12", "198.18.0.13"];
        ulong start = KernelClock.CoarseNs();
        foreach (var (src, tcpFrame) in udp.Select(a => (a, false)).Concat(tcp.Select(a => (a, true))))
        {
            string dst = src.Contains(':') ? "2001:db8:1::1" : "192.0.2.1";
            byte[] frame = (tcpFrame ? Frame.Tcp(src, dst, 40000, 80) : Frame.Udp(src, dst, 53, 53)).Build();
            var want = ReferenceEvaluator.Evaluate(rs, frame, sets, limits, KernelClock.CoarseNs()).Result;
            var run = c.TestRun(frame);
            Assert.True(DifferentialTests.Agrees(want, run.Verdict, c.ReadTrace()), $"{src}: kernel {run.Verdict}, reference {want}");
        }
        ulong end = KernelClock.CoarseNs();
        foreach (var set in new[] { "banned", "forever" })
        {
            var kernel = c.LiveSet(set).ReadAll().ToDictionary(e => e.Prefix, e => e.ExpiresNs);
            var want = sets.Entries(set);
            Assert.Equal(want.Keys.Order(), kernel.Keys.Order());
            foreach (var (prefix, expires) in want)
                Assert.True(kernel[prefix] == expires || (kernel[prefix] != 0 && expires != 0 && kernel[prefix] - Math.Min(kernel[prefix], expires) <= end - start),
                    $"{set} {prefix}: kernel {kernel[prefix]}, reference {expires}");
            Assert.Equal(((ulong)sets.AddedCount(set), (ulong)sets.RefreshedCount(set), (ulong)sets.FullCount(set)),
                (c.LiveSet(set).Counter(FwSetCounter.Added), c.LiveSet(set).Counter(FwSetCounter.Refreshed), c.LiveSet(set).Counter(FwSetCounter.Full)));
        }
        // What the reference says, spelled out: so the comparison above is not of two wrong things.
        Assert.Equal((2L, 1L, 2L), (sets.AddedCount("banned"), sets.RefreshedCount("banned"), sets.FullCount("banned")));
        Assert.Equal((1L, 1L, 1L), (sets.AddedCount("forever"), sets.RefreshedCount("forever"), sets.FullCount("forever")));
    }

    /// <summary>
    /// FW_MAX_LIMITS rules whose limits a packet matches in every other field, each passed over (a drop limit, the
    /// packet within it), and a rule after them without a limit: that rule decides (fw_classify's loop ends after
    /// FW_MAX_LIMITS checks with that match in hand; it once dropped it for the default).
    /// </summary>
    [Fact]
    public void ARuleAfterEveryLimitPassedOverStillDecides()
    {
        var pos = new SourcePos("t.yaml", 1, 1);
        var limit = new RuleLimit { Rate = 1, PeriodSeconds = 60, Burst = 1, PerRule = true };
        var rules = Enumerable.Range(0, FwSets.MaxLimits)
            .Select(i => new Rule { Index = i, Name = $"limit-{i}", Pos = pos, Action = RuleAction.Drop, Proto = [Ruleset.ProtoUdp], Limit = limit })
            .Append(new Rule { Index = FwSets.MaxLimits, Name = "after", Pos = pos, Action = RuleAction.Pass, Proto = [Ruleset.ProtoUdp] })
            .ToList();
        var rs = new Ruleset { File = "t.yaml", Default = RuleAction.Drop, Rules = rules };
        using var c = Classifier.Load(RulesetCompiler.Compile(rs), new ClassifierOptions { Trace = true });
        var sets = new ReferenceLiveSets(rs);
        var limits = new ReferenceLimits();
        byte[] frame = Frame.Udp("198.18.0.1", "192.0.2.1", 53, 53).Build();
        var want = ReferenceEvaluator.Evaluate(rs, frame, sets, limits, KernelClock.CoarseNs());
        Assert.Equal(new LiveResult(new Result(RuleAction.Pass, Reason.Rule, FwSets.MaxLimits), FwSets.MaxLimits, false), want);
        var run = c.TestRun(frame);
        var trace = c.ReadTrace();
        Assert.True(DifferentialTests.Agrees(want.Result, run.Verdict, trace) && trace.LimitWithin == FwSets.MaxLimits,
            $"kernel {run.Verdict} ({(FwReason)trace.Reason}, rule {(int)trace.Rule}, {trace.LimitWithin} limits passed over), reference {want}");
    }

    /// <summary>Sleeps until CLOCK_MONOTONIC_COARSE reaches <paramref name="ns"/>.</summary>
    static void WaitUntil(ulong ns)
    {
        for (ulong t = KernelClock.CoarseNs(); t < ns; t = KernelClock.CoarseNs())
            Thread.Sleep(TimeSpan.FromTicks((long)Math.Max(1_000, (ns - t) / 100)));
    }
}
