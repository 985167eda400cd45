using Fw.Bpf;
using Fw.Compiler;
using Fw.Kernel;
using Fw.Packets;
using Fw.Rules;
using static Fw.Tests.Rules.RulesTestKit;

namespace Fw.Tests.Rules;

/// <summary>
/// Issue 15's contract in the rules file: live sets (`{dynamic: true, timeout, max}`), a rule's `limit` and
/// `add_to`, their defaults and bounds, every error at file:line:col, the data plane's slots and limits checked
/// where they are passed (so what is read always compiles), and what the analyzer makes of them.
/// </summary>
public class LiveSetRulesTests
{
    private static string Y(params string[] lines) => string.Join("\n", lines) + "\n";

    private static IpPrefix P(string s) => PrefixParser.TryParse(s, out IpPrefix p) == PrefixError.None ? p : throw new ArgumentException(s);

    /// <summary>The example of rules/README.md's Live sets section (spec 15), with the sets and rules around it.</summary>
    private static readonly string Example = Y(
        "sets:",                                                        // 1
        "  blocklist: [203.0.113.0/24, \"2001:db8:bad::/48\"]",         // 2
        "  banned: { dynamic: true, timeout: 600, max: 65536 }",        // 3
        "  seen: { dynamic: true }",                                    // 4
        "  off: { dynamic: false, file: feed.txt }",                    // 5
        "rules:",                                                       // 6
        "  - name: drop-banned",                                        // 7
        "    src: [\"@banned\", \"@blocklist\", 198.51.100.0/24]",      // 8
        "    action: drop",                                             // 9
        "  - name: syn-flood",                                          // 10
        "    proto: tcp",                                               // 11
        "    tcp_flags: \"syn,!ack\"",                                  // 12
        "    limit: { rate: 50/s, burst: 100, per: src }",              // 13
        "    add_to: \"@banned\"",                                      // 14
        "    action: drop",                                             // 15
        "  - name: quota",                                              // 16
        "    proto: udp",                                               // 17
        "    limit: { rate: 600/m }",                                   // 18
        "    add_to: \"@seen\"",                                        // 19
        "    action: pass",                                             // 20
        "  - name: per-net",                                            // 21
        "    limit: { rate: 10/s, per: src/24 }",                       // 22
        "    action: drop",                                             // 23
        "  - name: per-rule",                                           // 24
        "    limit: { rate: 1000/s, per: rule }",                       // 25
        "    action: drop",                                             // 26
        "  - name: per-v6",                                             // 27
        "    limit:",                                                   // 28
        "      rate: 5/s",                                              // 29
        "      per: src/48",                                            // 30
        "    src: \"@off\"",                                            // 31
        "    action: drop");                                            // 32

    private static Ruleset ParseExample()
    {
        using var dir = new TempDir();
        dir.Write("feed.txt", "192.0.2.0/24\n");
        return ParseOk(Example, dir.Path);
    }

    [Fact]
    public void LiveSetsLimitsAndAddToAreRead()
    {
        var rs = ParseExample();
        var banned = rs.Sets["banned"];
        Assert.True(banned.Dynamic);
        Assert.Equal((600u, 65536), (banned.Timeout!.Value, banned.Max));
        Assert.Empty(banned.Prefixes);
        Assert.Null(banned.File);
        Assert.Equal(new SourcePos(RulesFile, 3, 3), banned.Pos);
        var seen = rs.Sets["seen"];
        Assert.True(seen.Dynamic);
        Assert.Null(seen.Timeout);                             // entries stay until removed
        Assert.Equal(PrefixSet.DefaultMax, seen.Max);
        Assert.False(rs.Sets["off"].Dynamic);                  // dynamic: false is a static set, its file read as ever
        Assert.Equal([P("192.0.2.0/24")], rs.Sets["off"].Prefixes);
        Assert.False(rs.Sets["blocklist"].Dynamic);
        Assert.Equal(["banned", "seen"], rs.LiveSets.Select(s => s.Name));

        var r = rs.Rules;
        Assert.Equal(new RuleLimit { Rate = 50, PeriodSeconds = 1, Burst = 100 }, r[1].Limit);
        Assert.Same(banned, r[1].AddTo);
        Assert.Equal(new SourcePos(RulesFile, 13, 5), r[1].PosOf("limit"));
        Assert.Equal(new SourcePos(RulesFile, 14, 5), r[1].PosOf("add_to"));
        Assert.Equal(new RuleLimit { Rate = 600, PeriodSeconds = 60, Burst = 10 }, r[2].Limit);   // burst: one second's worth
        Assert.Same(seen, r[2].AddTo);
        Assert.Equal(new RuleLimit { Rate = 10, PeriodSeconds = 1, Burst = 10, Len4 = 24, Len6 = 56 }, r[3].Limit);
        Assert.Equal(new RuleLimit { Rate = 1000, PeriodSeconds = 1, Burst = 1000, PerRule = true }, r[4].Limit);
        Assert.Equal(new RuleLimit { Rate = 5, PeriodSeconds = 1, Burst = 5, Len4 = 32, Len6 = 48 }, r[5].Limit);
        Assert.Equal(new SourcePos(RulesFile, 28, 5), r[5].PosOf("limit"));
        Assert.Null(r[0].Limit);
        Assert.Null(r[0].AddTo);
        Assert.Equal("50/s burst 100 per src", r[1].Limit!.ToString());
        Assert.Equal("10/s burst 10 per src/24", r[3].Limit!.ToString());
        Assert.True(rs.UsesLimits);
    }

    [Fact]
    public void ADynamicSetMixesWithAStaticSetAndPrefixesInSrc()
    {
        var rs = ParseExample();
        var src = rs.Rules[0].Src!;
        Assert.Equal([P("198.51.100.0/24")], src.Prefixes);
        Assert.Equal(["banned", "blocklist"], src.Sets.Select(s => s.Name));
        var image = RulesetCompiler.Compile(rs);
        Assert.Equal(1, image.SrcSets);
        Assert.Equal(["banned", "seen"], image.LiveSets.Select(s => s.Name));
        Assert.Equal(image.LiveSets.Single(s => s.Name == "banned").Slot, image.Rules[1].AddToSlot);
        Assert.Equal(image.LiveSets.Single(s => s.Name == "seen").Slot, image.Rules[2].AddToSlot);
        Assert.Equal(600u, image.Rules[1].AddTimeout);
        Assert.Null(image.Rules[2].AddTimeout);
    }

    /// <summary>In the kernel (BPF_PROG_TEST_RUN): the static prefix, the static set and the live set's entries each match.</summary>
    [Fact]
    public void ADynamicSetMixedInSrcMatchesInTheKernel()
    {
        var rs = ParseOk(Y(
            "sets:",
            "  blocklist: [203.0.113.0/24]",
            "  banned: { dynamic: true, timeout: 600 }",
            "rules:",
            "  - name: drop-listed",
            "    src: [\"@banned\", \"@blocklist\", 198.51.100.0/24]",
            "    action: drop"));
        using var c = Classifier.Load(RulesetCompiler.Compile(rs), new ClassifierOptions { Trace = true });
        XdpAction From(string src) => c.TestRun(Frame.Udp(src, "192.0.2.1", 53, 53).Build()).Verdict;
        Assert.Equal(XdpAction.Drop, From("203.0.113.9"));     // the static set
        Assert.Equal(XdpAction.Drop, From("198.51.100.9"));    // the rule's own prefix
        Assert.Equal(XdpAction.Pass, From("198.18.0.1"));
        c.LiveSet("banned").Put(P("198.18.0.1/32"), 0, KernelClock.CoarseNs());
        Assert.Equal(XdpAction.Drop, From("198.18.0.1"));      // the live set, from its next packet
        Assert.Equal(XdpAction.Pass, From("198.18.0.2"));
    }

    [Fact]
    public void TheSpecExampleBansASynFloodAndDropsTheBanned()
    {
        var rs = ParseOk(Y(
            "sets:",
            "  banned: { dynamic: true, timeout: 600, max: 65536 }",
            "rules:",
            "  - name: drop-banned",
            "    src: \"@banned\"",
            "    action: drop",
            "  - name: syn-flood",
            "    proto: tcp",
            "    tcp_flags: \"syn,!ack\"",
            "    limit: { rate: 1/m, burst: 2, per: src }",
            "    add_to: \"@banned\"",
            "    action: drop"));
        using var c = Classifier.Load(RulesetCompiler.Compile(rs), new ClassifierOptions { Trace = true });
        var syn = Frame.Tcp("198.18.0.5", "192.0.2.1", 40000, 80);
        var verdicts = Enumerable.Range(0, 4).Select(_ => c.TestRun(syn.Build()).Verdict).ToList();
        Assert.Equal([XdpAction.Pass, XdpAction.Pass, XdpAction.Drop, XdpAction.Drop], verdicts);   // the burst, then over and banned
        Assert.Equal(P("198.18.0.5/32"), Assert.Single(c.LiveSet("banned").ReadAll()).Prefix);
    }

    [Fact]
    public void TheDefaultsAreOneSecondsWorthPerSource()
    {
        var rs = ParseOk(Y("rules:", "  - limit: {rate: 50/s}", "    action: drop", "  - limit: {rate: 30/m}", "    action: pass",
            "  - limit: {rate: 1 / s, per: src/128}", "    action: drop", "  - limit: {rate: 90/m, per: src/32}", "    action: drop"));
        Assert.Equal(new RuleLimit { Rate = 50, PeriodSeconds = 1, Burst = 50 }, rs.Rules[0].Limit);
        Assert.Equal(new RuleLimit { Rate = 30, PeriodSeconds = 60, Burst = 1 }, rs.Rules[1].Limit);     // at least 1
        Assert.Equal(new RuleLimit { Rate = 1, PeriodSeconds = 1, Burst = 1 }, rs.Rules[2].Limit);      // src/128: per address
        Assert.Equal(new RuleLimit { Rate = 90, PeriodSeconds = 60, Burst = 2, Len4 = 32, Len6 = 64 }, rs.Rules[3].Limit);
    }

    [Fact]
    public void TheBoundsOfEachValueAreAccepted()
    {
        var rs = ParseOk(Y(
            "sets:",
            "  a: { dynamic: true, timeout: 1, max: 1 }",
            "  b: { max: 16777216, timeout: 31536000, dynamic: true }",
            "rules:",
            "  - limit: { rate: 1000000000/s }",
            "    action: drop",
            "  - limit: { rate: 1/m, burst: 525601, per: src/1 }",      // a year's worth exactly
            "    action: drop",
            "  - limit: { rate: 1000000000/m, burst: 1000000000 }",
            "    action: pass",
            "    add_to: \"@a\""));
        Assert.Equal((1u, 1), (rs.Sets["a"].Timeout!.Value, rs.Sets["a"].Max));
        Assert.Equal((31_536_000u, 16_777_216), (rs.Sets["b"].Timeout!.Value, rs.Sets["b"].Max));
        Assert.Equal(1UL, rs.Rules[0].Limit!.IntervalNs);
        Assert.Equal(PrefixSet.MaxTimeout * 1_000_000_000UL, rs.Rules[1].Limit!.ToleranceNs);
        Assert.Equal(((byte)1, (byte)33), (rs.Rules[1].Limit!.Len4, rs.Rules[1].Limit!.Len6));
        RulesetCompiler.Compile(rs);
    }

    [Fact]
    public void EveryExistingSetFormReadsAsBefore()
    {
        using var dir = new TempDir();
        dir.Write("feed.txt", "192.0.2.0/24\n");
        var rs = ParseOk(Y("sets:", "  a: [10.0.0.0/8]", "  b: { file: feed.txt }", "  c: []", "  d: {dynamic: false, file: feed.txt}",
            "rules:", "  - src: [\"@a\", \"@b\", \"@c\", \"@d\"]", "    action: drop"), dir.Path);
        Assert.All(rs.Sets.Values, s => Assert.False(s.Dynamic));
        Assert.Equal(Path.Combine(dir.Path, "feed.txt"), rs.Sets["d"].File);
        Assert.Empty(rs.LiveSets);
        Assert.False(rs.UsesLimits);
        Assert.Empty(RulesetCompiler.Compile(rs).LiveSets);
    }

    public static TheoryData<string, int, int, string> Errors => new()
    {
        // live sets
        { Y("sets:", "  b: { dynamic: true, file: x.txt }"), 2, 23, "set 'b' is dynamic: its entries come from add_to and fwctl set, not from a file" },
        { Y("sets:", "  b: { dynamic: yes }"), 2, 17, "bad dynamic 'yes'; expected true or false" },
        { Y("sets:", "  b: { dynamic: }"), 2, 8, "'dynamic' has no value; expected true or false" },
        { Y("sets:", "  b: { dynamic: true, timeout: 0 }"), 2, 32, "timeout 0 is out of range (1-31,536,000)" },
        { Y("sets:", "  b: { dynamic: true, timeout: 31536001 }"), 2, 32, "timeout 31536001 is out of range (1-31,536,000)" },
        { Y("sets:", "  b: { dynamic: true, timeout: 60s }"), 2, 32, "bad timeout '60s'; expected a number 1-31,536,000" },
        { Y("sets:", "  b: { dynamic: true, max: 0 }"), 2, 28, "max 0 is out of range (1-16,777,216)" },
        { Y("sets:", "  b: { dynamic: true, max: 16777217 }"), 2, 28, "max 16777217 is out of range (1-16,777,216)" },
        { Y("sets:", "  b: { file: x.txt, timeout: 60 }"), 2, 21, "'timeout' is only for a live set (dynamic: true); set 'b' is static" },
        { Y("sets:", "  b: { dynamic: false, max: 10 }"), 2, 24, "'max' is only for a live set (dynamic: true); set 'b' is static" },
        { Y("sets:", "  b: { dynamic: false, max: 10 }"), 2, 6, "set 'b' has no 'file'" },
        { Y("sets:", "  b: { timeout: 60 }"), 2, 8, "'timeout' is only for a live set" },
        { Y("sets:", "  b: { dynamic: true, ttl: 60 }"), 2, 23, "unknown key 'ttl' in set 'b'" },
        { Y("sets:", "  b: { dynamic: true, dynamic: true }"), 2, 23, "duplicate key 'dynamic' in set 'b'" },
        { Y("sets:", "  ..: { dynamic: true }"), 2, 3, "'..' is not a set name" },
        { Y("sets:", "  \"a b\": { dynamic: true }"), 2, 3, "set name 'a b' contains U+0020" },

        // limit
        { Y("rules:", "  - action: redirect", "    to: eth1", "    limit: { rate: 5/s }"), 4, 5, "'limit' is only for action drop (it matches packets over the rate) or pass" },
        { Y("rules:", "  - action: drop", "    limit: { rate: 0/s }"), 3, 20, "rate '0/s': N is out of range (1-1,000,000,000)" },
        { Y("rules:", "  - action: drop", "    limit: { rate: 1000000001/m }"), 3, 20, "N is out of range (1-1,000,000,000)" },
        { Y("rules:", "  - action: drop", "    limit: { rate: 50 }"), 3, 20, "bad rate '50'; expected \"N/s\" or \"N/m\"" },
        { Y("rules:", "  - action: drop", "    limit: { rate: 50/h }"), 3, 20, "bad rate '50/h'" },
        { Y("rules:", "  - action: drop", "    limit: { rate: \"-5/s\" }"), 3, 20, "bad rate '-5/s'" },
        { Y("rules:", "  - action: drop", "    limit: { rate: /s }"), 3, 20, "bad rate '/s'" },
        { Y("rules:", "  - action: drop", "    limit: { rate: 5/s, burst: 0 }"), 3, 32, "burst 0 is out of range (1-1,000,000,000)" },
        { Y("rules:", "  - action: drop", "    limit: { rate: 5/s, burst: 1.5 }"), 3, 32, "bad burst '1.5'" },
        { Y("rules:", "  - action: drop", "    limit: { rate: 1/m, burst: 525602 }"), 3, 32, "burst 525602 at 1/m is more than a year's worth of packets; at most 525,601 at this rate" },
        { Y("rules:", "  - action: drop", "    limit: { rate: 5/s, per: src/0 }"), 3, 30, "per 'src/0': N is out of range (1-128)" },
        { Y("rules:", "  - action: drop", "    limit: { rate: 5/s, per: src/129 }"), 3, 30, "per 'src/129': N is out of range (1-128)" },
        { Y("rules:", "  - action: drop", "    limit: { rate: 5/s, per: dst }"), 3, 30, "bad per 'dst'; expected src, src/N (N 1-128) or rule" },
        { Y("rules:", "  - action: drop", "    limit: { burst: 5 }"), 3, 12, "'limit' has no 'rate'" },
        { Y("rules:", "  - action: drop", "    limit: 50/s"), 3, 12, "'limit': expected a mapping of rate, burst and per, like {rate: 50/s, burst: 100, per: src}, found '50/s'" },
        { Y("rules:", "  - action: drop", "    limit:"), 3, 5, "'limit' has no value" },
        { Y("rules:", "  - action: drop", "    limit: { rate: 5/s, brust: 10 }"), 3, 25, "unknown key 'brust' in limit; did you mean 'burst'?" },
        { Y("rules:", "  - action: drop", "    limit: { rate: [5/s] }"), 3, 20, "'rate': expected \"N/s\" or \"N/m\"" },

        // add_to
        { Y("sets:", "  bl: [192.0.2.0/24]", "rules:", "  - action: drop", "    add_to: \"@bl\""), 5, 13, "add_to names set 'bl', which is static (a list or a file); add_to needs a live set (dynamic: true)" },
        { Y("sets:", "  banned: {dynamic: true}", "rules:", "  - action: drop", "    add_to: \"@baned\""), 5, 13, "unknown set 'baned'; did you mean '@banned'?" },
        { Y("sets:", "  banned: {dynamic: true}", "rules:", "  - action: drop", "    add_to: banned"), 5, 13, "bad add_to 'banned'; expected a live set \"@name\"" },
        { Y("rules:", "  - action: drop", "    add_to: \"@\""), 3, 13, "'@' without a set name" },
        { Y("rules:", "  - action: drop", "    add_to: [\"@a\"]"), 3, 13, "'add_to': expected a live set \"@name\", found a list" },
        { Y("rules:", "  - action: drop", "    add_to:"), 3, 5, "'add_to' has no value" },
    };

    [Theory]
    [MemberData(nameof(Errors))]
    public void BadValuesAreErrorsAtTheirPlace(string yaml, int line, int column, string fragment) =>
        AssertError(Parse(yaml), line, column, fragment);

    [Fact]
    public void AnAddToOfABrokenSetIsNotReportedAgain()
    {
        var r = Parse(Y("sets:", "  banned: { dynamic: true, max: 0 }", "rules:", "  - action: drop", "    add_to: \"@banned\"", "    src: \"@banned\""));
        Assert.Equal(["max 0 is out of range (1-16,777,216)"], r.Errors.Select(e => e.Message));
    }

    // ---- the data plane's slots and limits ----

    private static string LiveSets(string prefix, int n) =>
        string.Concat(Enumerable.Range(0, n).Select(i => $"  {prefix}{i}: {{dynamic: true}}\n"));

    [Fact]
    public void NineLiveSetsInSrcAreOneTooMany()
    {
        string list = string.Join(", ", Enumerable.Range(0, 9).Select(i => $"\"@s{i}\""));
        var r = Parse("sets:\n" + LiveSets("s", 9) + "rules:\n  - action: drop\n    src: [" + list + "]\n");
        var e = AssertError(r, 13, 67, "more than 8 live sets are named in src; '@s8' is the 9th");
        Assert.Equal(5, e.Length);
        Assert.Single(r.Errors);
    }

    [Fact]
    public void NineLiveSetsInDstAcrossRulesAreOneTooMany()
    {
        string rules = string.Concat(Enumerable.Range(0, 9).Select(i => $"  - {{dst: \"@s{i}\", action: drop}}\n"));
        var r = Parse("sets:\n" + LiveSets("s", 9) + "rules:\n" + rules);
        AssertError(r, 20, 11, "more than 8 live sets are named in dst; '@s8' is the 9th");
        Assert.Single(r.Errors);
    }

    [Fact]
    public void SeventeenOtherLiveSetsAreOneTooMany()
    {
        var r = Parse("sets:\n" + LiveSets("o", 17));
        AssertError(r, 18, 3, "more than 16 live sets are named in neither src nor dst (add_to targets, sets only fwctl fills); 'o16' is the 17th");
        Assert.Single(r.Errors);
    }

    [Fact]
    public void SixtyFiveLimitsAreOneTooMany()
    {
        var r = Parse("rules:\n" + string.Concat(Enumerable.Repeat("  - {limit: {rate: 1/s}, action: drop}\n", 65)));
        AssertError(r, 66, 6, "more than 64 rules have a limit; this is the 65th");
        Assert.Single(r.Errors);
    }

    /// <summary>Every slot full (a set in both src and dst counts in both) and 64 limits: read, compiled, loaded.</summary>
    [Fact]
    public void EverySlotFullAndEveryLimitCompileAndLoad()
    {
        string both = string.Join(", ", Enumerable.Range(0, 8).Select(i => $"\"@s{i}\""));
        string yaml = "sets:\n" + LiveSets("s", 8) + LiveSets("o", 16)
            + "rules:\n"
            + $"  - {{src: [{both}], dst: [{both}], action: drop}}\n"
            + string.Concat(Enumerable.Range(0, 16).Select(i => $"  - {{proto: {i + 1}, limit: {{rate: 1/s}}, add_to: \"@o{i}\", action: drop}}\n"))
            + string.Concat(Enumerable.Repeat("  - {proto: tcp, limit: {rate: 5/s}, action: pass}\n", 48));
        var rs = ParseOk(yaml);
        Assert.Equal(64, rs.Rules.Count(r => r.Limit is not null));
        var image = RulesetCompiler.Compile(rs);
        Assert.Equal((8, 8, 32), (image.SrcSets, image.DstSets, image.LiveSets.Count));
        using var c = Classifier.Load(image, new ClassifierOptions());
        Assert.Equal(XdpAction.Pass, c.TestRun(Frame.Udp("198.18.0.1", "192.0.2.1", 53, 53).Build()).Verdict);
    }

    // ---- the analyzer ----

    [Fact]
    public void ALiveSetIsNeverAnEmptySetAndIsComparedByIdentity()
    {
        var r = Parse(Y("sets:", "  banned: {dynamic: true}", "  v4: [10.0.0.0/8]",
            "rules:",
            "  - name: by-v6",                       // 5: a live set may hold IPv6 sources: no family conflict
            "    src: \"@banned\"",
            "    dst: \"2001:db8::/32\"",
            "    action: pass",
            "  - name: banned",                      // 9: a live set alone: no "names only empty sets"
            "    src: \"@banned\"",
            "    action: drop",
            "  - name: v4",                          // 12: not covered by the live set (it may hold anything, or nothing)
            "    src: \"@v4\"",
            "    action: drop",
            "  - name: banned-tcp",                  // 15: covered: the same live set, fewer packets
            "    src: \"@banned\"",
            "    proto: tcp",
            "    action: pass"));
        Assert.True(r.Ok);
        var never = r.Warnings.Where(w => w.Message.Contains("can never match")).ToList();
        var w = Assert.Single(never);
        Assert.Equal((15, "rule 'banned-tcp' can never match: rule 'banned' (rules.yaml:9) matches everything it does"), (w.Pos.Line, w.Message));
    }

    [Fact]
    public void ARuleWithALimitShadowsNothing()
    {
        var r = Parse(Y("default: drop", "rules:",
            "  - name: flood", "    proto: tcp", "    limit: { rate: 50/s }", "    action: drop",
            "  - name: quota", "    limit: { rate: 10/s, per: rule }", "    action: pass",
            "  - name: web", "    proto: tcp", "    dport: 443", "    action: pass",
            "  - name: nd", "    proto: icmpv6", "    icmp_type: [135, 136]", "    action: pass",
            "  - name: replies", "    state: established", "    action: pass"));
        Assert.True(r.Ok);
        Assert.DoesNotContain(r.Warnings, w => w.Message.Contains("can never match"));
        Assert.DoesNotContain(r.Warnings, w => w.Message.Contains("neighbour discovery"));
        // A later rule that a limit rule's fields cover is still dead when the limit rule has none.
        var dead = Parse(Y("rules:", "  - name: all-tcp", "    proto: tcp", "    action: drop",
            "  - name: limited", "    proto: tcp", "    limit: { rate: 5/s }", "    action: drop"));
        AssertWarning(dead, 5, 5, "rule 'limited' can never match");
    }

    [Fact]
    public void AddToFromADropLimitPerRuleIsWarnedAbout()
    {
        var r = Parse(Y("sets:", "  banned: {dynamic: true, timeout: 60}", "rules:",
            "  - name: shared", "    proto: udp", "    limit: { rate: 1000/s, per: rule }", "    add_to: \"@banned\"", "    action: drop",
            "  - name: by-source", "    proto: tcp", "    limit: { rate: 10/s }", "    add_to: \"@banned\"", "    action: drop",
            "  - name: quota", "    limit: { rate: 10/s, per: rule }", "    add_to: \"@banned\"", "    action: pass"));
        Assert.True(r.Ok);
        var w = AssertWarning(r, 7, 5, "rule 'shared' has a limit per rule and add_to: every source whose packet comes over the rule's shared rate goes into 'banned'");
        Assert.Single(r.Warnings, x => x.Message.Contains("add_to"));
        Assert.Equal("add_to".Length, w.Length);
    }
}
