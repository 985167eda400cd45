using Fw.Rules;
using Fw.Testing;
using Fw.Packets;
using Fw.Testing.Random;
using Fw.Testing.Reference;
using Xunit;
using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace Fw.Tests.Testing;

/// <summary>The generators: reproducible from a seed, valid by construction, and covering what they promise.</summary>
public class GeneratorTests
{
    const int Seeds = 200;

    static readonly IReadOnlyList<GeneratedRuleset> Generated =
        Enumerable.Range(0, Seeds).Select(s => RulesetGenerator.GenerateWithModel(s)).ToList();

    [Fact]
    public void The_same_seed_gives_the_same_yaml()
    {
        for (int seed = 0; seed < 50; seed++)
            Assert.Equal(RulesetGenerator.Generate(seed), RulesetGenerator.Generate(seed));
        Assert.Equal(Seeds, Generated.Select(g => g.Yaml).Distinct().Count());
    }

    [Fact]
    public void The_same_seed_gives_the_same_frames()
    {
        // Two rulesets generated apart, not one shared object: nothing may depend on identity or hashing order.
        var a = new FrameGenerator(RulesetGenerator.GenerateWithModel(7).Expected, seed: 99);
        var b = new FrameGenerator(RulesetGenerator.GenerateWithModel(7).Expected, seed: 99);
        for (int i = 0; i < 2000; i++)
            Assert.Equal(a.Next(), b.Next());

        var c = new FrameGenerator(RulesetGenerator.GenerateWithModel(7).Expected, seed: 100);
        var d = new FrameGenerator(RulesetGenerator.GenerateWithModel(7).Expected, seed: 99);
        Assert.NotEqual(Enumerable.Range(0, 20).Select(_ => FrameHex.Format(c.Next())), Enumerable.Range(0, 20).Select(_ => FrameHex.Format(d.Next())));
    }

    [Fact]
    public void Generated_rulesets_obey_the_contracts_validation_rules()
    {
        foreach (var g in Generated)
        {
            var rs = g.Expected;
            Assert.InRange(rs.Rules.Count, 1, 60);
            Assert.InRange(rs.Sets.Count, 0, 3);
            Assert.Equal(rs.Rules.Count, rs.Rules.Select(r => r.Name).Distinct().Count());
            foreach (var r in rs.Rules)
            {
                string where = $"seed {g.Seed} rule {r.Index + 1}";
                Assert.Equal(r.Index, rs.Rules.ToList().IndexOf(r));
                if (r.Sport is not null || r.Dport is not null)
                    Assert.True(r.Proto is { Count: > 0 } && r.Proto.All(p => p is 6 or 17), where);
                if (r.TcpFlags is not null)
                    Assert.True(r.Proto is [6] && r.TcpFlags.Value.Mask != 0 && (r.TcpFlags.Value.Value & ~r.TcpFlags.Value.Mask) == 0, where);
                if (r.IcmpType is not null)
                    Assert.True(r.Proto is { Count: > 0 } && r.Proto.All(p => p is 1 or 58), where);
                Assert.Equal(r.Action == RuleAction.Redirect, r.To == RulesetGenerator.DefaultRedirectTarget);
                foreach (var range in (r.Sport ?? []).Concat(r.Dport ?? []))
                    Assert.True(range.Low <= range.High, where);
                foreach (var set in (r.Src?.Sets ?? []).Concat(r.Dst?.Sets ?? []))
                    Assert.Same(rs.Sets[set.Name], set);
                foreach (var p in (r.Src?.AllPrefixes() ?? []).Concat(r.Dst?.AllPrefixes() ?? []))
                    Assert.Equal(IpPrefix.Create(p.Family, p.Bits, p.Length), p); // no host bits
            }
            // A rule with no field at all hides every rule after it, so only the last may be one.
            Assert.All(rs.Rules.SkipLast(1), r => Assert.False(r.Src is null && r.Dst is null && r.Proto is null));
        }
    }

    [Fact]
    public void Generated_rulesets_cover_the_contract()
    {
        var rulesets = Generated.Select(g => g.Expected).ToList();
        var rules = rulesets.SelectMany(rs => rs.Rules).ToList();
        var prefixes = rulesets.SelectMany(rs => rs.Sets.Values.SelectMany(s => s.Prefixes)
            .Concat(rs.Rules.SelectMany(r => (r.Src?.Prefixes ?? []).Concat(r.Dst?.Prefixes ?? [])))).ToList();

        var seen = new Dictionary<string, bool>
        {
            ["default pass"] = rulesets.Any(rs => rs.Default == RuleAction.Pass),
            ["default drop"] = rulesets.Any(rs => rs.Default == RuleAction.Drop),
            ["malformed pass"] = rulesets.Any(rs => rs.Malformed == RuleAction.Pass),
            ["malformed drop"] = rulesets.Any(rs => rs.Malformed == RuleAction.Drop),
            ["non_ip pass"] = rulesets.Any(rs => rs.NonIp == RuleAction.Pass),
            ["non_ip drop"] = rulesets.Any(rs => rs.NonIp == RuleAction.Drop),
            ["no sets"] = rulesets.Any(rs => rs.Sets.Count == 0),
            ["3 sets"] = rulesets.Any(rs => rs.Sets.Count == 3),
            ["empty set"] = rulesets.Any(rs => rs.Sets.Values.Any(s => s.Prefixes.Count == 0)),
            ["empty set referenced"] = rules.Any(r => (r.Src?.Sets ?? []).Concat(r.Dst?.Sets ?? []).Any(s => s.Prefixes.Count == 0)),
            ["set reference"] = rules.Any(r => r.Src?.Sets.Count > 0) && rules.Any(r => r.Dst?.Sets.Count > 0),
            ["1 rule"] = rulesets.Any(rs => rs.Rules.Count == 1),
            ["55+ rules"] = rulesets.Any(rs => rs.Rules.Count >= 55),
            ["ipv4 /0"] = prefixes.Any(p => p is { Family: IpFamily.V4, Length: 0 }),
            ["ipv6 /0"] = prefixes.Any(p => p is { Family: IpFamily.V6, Length: 0 }),
            ["/32"] = prefixes.Any(p => p is { Family: IpFamily.V4, Length: 32 }),
            ["/128"] = prefixes.Any(p => p is { Family: IpFamily.V6, Length: 128 }),
            ["odd lengths"] = prefixes.Select(p => p.Length).Distinct().Count() > 60,
            ["mixed-family field"] = rules.Any(r => r.Src?.AllPrefixes().Select(p => p.Family).Distinct().Count() == 2),
            ["nested prefixes in one rule set"] = rulesets.Any(rs => NestedPairs(rs) > 0),
            ["no proto"] = rules.Any(r => r.Proto is null),
            ["proto list"] = rules.Any(r => r.Proto?.Count > 1),
            ["other protos"] = rules.Any(r => r.Proto?.Any(p => p is not (1 or 6 or 17 or 58)) == true),
            ["single port"] = rules.Any(r => r.Dport?.Any(p => p.Low == p.High) == true),
            ["port range"] = rules.Any(r => r.Sport?.Any(p => p.Low < p.High) == true),
            ["port list"] = rules.Any(r => r.Dport?.Count > 1),
            ["ports with tcp,udp"] = rules.Any(r => r.Proto?.Count == 2 && r.Dport is not null && r.Proto.Contains((byte)17)),
            ["tcp_flags"] = rules.Any(r => r.TcpFlags is not null),
            ["icmp_type"] = rules.Any(r => r.IcmpType is not null && r.Proto!.Contains((byte)1)),
            ["icmpv6 type"] = rules.Any(r => r.IcmpType is not null && r.Proto!.Contains((byte)58)),
            ["pass"] = rules.Any(r => r.Action == RuleAction.Pass),
            ["drop"] = rules.Any(r => r.Action == RuleAction.Drop),
            ["redirect"] = rules.Any(r => r.Action == RuleAction.Redirect),
            ["named"] = rules.Any(r => r.Name != $"rule-{r.Index + 1}"),
            ["catch-all last rule"] = rulesets.Any(rs => rs.Rules[^1] is { Src: null, Dst: null, Proto: null }),
        };
        Assert.Empty(seen.Where(kv => !kv.Value).Select(kv => kv.Key));
    }

    // ---- Opt-in: live sets and limits (issue 15) -----------------------------------------------------

    static readonly IReadOnlyList<GeneratedRuleset> WithLiveSets =
        Enumerable.Range(0, Seeds).Select(s => RulesetGenerator.GenerateWithModel(s, features: RulesetFeatures.All)).ToList();

    [Fact]
    public void Live_sets_and_limits_are_off_unless_asked_for()
    {
        Assert.All(Generated, g => Assert.False(g.Expected.LiveSets.Any() || g.Expected.UsesLimits
            || g.Expected.Rules.Any(r => r.AddTo is not null)));
        for (int seed = 0; seed < 20; seed++)
        {
            Assert.Equal(RulesetGenerator.Generate(seed), RulesetGenerator.Generate(seed, features: RulesetFeatures.None));
            Assert.Equal(RulesetGenerator.Generate(seed, features: RulesetFeatures.All), RulesetGenerator.Generate(seed, features: RulesetFeatures.All));
        }
    }

    [Fact]
    public void Live_sets_and_limits_stay_within_the_data_planes_bounds_and_compile()
    {
        foreach (var g in WithLiveSets)
        {
            var rs = g.Expected;
            string where = $"seed {g.Seed}";
            Assert.InRange(rs.Rules.Count(r => r.Limit is not null), 0, RulesetGenerator.MaxLimits);
            Assert.InRange(rs.Rules.SelectMany(r => r.Src?.Sets ?? []).Where(s => s.Dynamic).Distinct().Count(), 0, 8);
            Assert.InRange(rs.Rules.SelectMany(r => r.Dst?.Sets ?? []).Where(s => s.Dynamic).Distinct().Count(), 0, 8);
            foreach (var r in rs.Rules)
            {
                if (r.Limit is RuleLimit limit)
                {
                    Assert.True(r.Action is RuleAction.Drop or RuleAction.Pass, where);
                    Assert.True(limit.Rate >= 1 && limit.Burst >= 1 && limit.IntervalNs >= 1, where);
                }
                if (r.AddTo is PrefixSet target)
                    Assert.True(target.Dynamic && rs.Sets[target.Name] == target, where);
            }
            foreach (var set in rs.LiveSets)
            {
                Assert.Empty(set.Prefixes);
                Assert.InRange(set.Max, PrefixSet.MinMax, PrefixSet.MaxMax);
                Assert.Contains($"  {set.Name}: {{ dynamic: true", g.Yaml);
            }
            Assert.Equal(rs.Rules.Count(r => r.Limit is not null), g.Yaml.Split('\n').Count(l => l.Contains("limit: { rate: ")));
            Assert.Equal(rs.Rules.Count(r => r.AddTo is not null), g.Yaml.Split('\n').Count(l => l.Contains("add_to: \"@")));
            Fw.Compiler.RulesetCompiler.Compile(rs);
        }
        var all = WithLiveSets.Select(g => g.Expected).ToList();
        var rules = all.SelectMany(rs => rs.Rules).ToList();
        var seen = new Dictionary<string, bool>
        {
            ["live set in src"] = rules.Any(r => r.Src?.Sets.Any(s => s.Dynamic) == true),
            ["live set in dst"] = rules.Any(r => r.Dst?.Sets.Any(s => s.Dynamic) == true),
            ["add_to"] = rules.Any(r => r.AddTo is not null),
            ["add_to a set no rule names"] = all.Any(rs => rs.Rules.Any(r => r.AddTo is { } t
                && !rs.Rules.Any(x => (x.Src?.Sets ?? []).Concat(x.Dst?.Sets ?? []).Contains(t)))),
            ["timeout"] = all.Any(rs => rs.LiveSets.Any(s => s.Timeout is not null)),
            ["no timeout"] = all.Any(rs => rs.LiveSets.Any(s => s.Timeout is null)),
            ["small max"] = all.Any(rs => rs.LiveSets.Any(s => s.Max <= 2)),
            ["drop limit"] = rules.Any(r => r is { Limit: not null, Action: RuleAction.Drop }),
            ["pass quota"] = rules.Any(r => r is { Limit: not null, Action: RuleAction.Pass }),
            ["per rule"] = rules.Any(r => r.Limit?.PerRule == true),
            ["per src"] = rules.Any(r => r.Limit is { PerRule: false, Len4: 32, Len6: 128 }),
            ["per src/N"] = rules.Any(r => r.Limit is { PerRule: false, Len4: < 32 }) && rules.Any(r => r.Limit is { Len6: > 64 and < 128 }),
            ["N/s"] = rules.Any(r => r.Limit?.PeriodSeconds == 1),
            ["N/m"] = rules.Any(r => r.Limit?.PeriodSeconds == 60),
        };
        Assert.Empty(seen.Where(kv => !kv.Value).Select(kv => kv.Key));
    }

    [Fact]
    public void Slow_limits_are_slow()
    {
        var features = RulesetFeatures.All with { SlowLimits = true };
        var limits = Enumerable.Range(0, Seeds)
            .SelectMany(s => RulesetGenerator.GenerateWithModel(s, features: features).Expected.Rules)
            .Select(r => r.Limit).OfType<RuleLimit>().ToList();
        Assert.NotEmpty(limits);
        Assert.All(limits, l => Assert.True(l.IntervalNs >= (ulong)RulesetGenerator.SlowInterval.TotalNanoseconds, l.ToString()));
    }

    static int NestedPairs(Ruleset rs)
    {
        var all = rs.Rules.SelectMany(r => (r.Src?.AllPrefixes() ?? []).Concat(r.Dst?.AllPrefixes() ?? [])).Distinct().ToList();
        return all.Sum(a => all.Count(b => a != b && a.Contains(b)));
    }

    [Fact]
    public void Generated_yaml_is_well_formed_and_quotes_what_yaml_needs_quoted()
    {
        string[] topKeys = ["default", "malformed", "non_ip", "interfaces", "sets", "rules"];
        string[] ruleKeys = ["name", "src", "dst", "proto", "sport", "dport", "tcp_flags", "icmp_type", "action", "to"];
        foreach (var g in Generated)
        {
            var stream = new YamlStream();
            stream.Load(new StringReader(g.Yaml));
            var root = Assert.IsType<YamlMappingNode>(Assert.Single(stream.Documents).RootNode);
            Assert.All(root.Children.Keys, k => Assert.Contains(((YamlScalarNode)k).Value, topKeys));
            var rules = Assert.IsType<YamlSequenceNode>(root.Children[new YamlScalarNode("rules")]);
            Assert.Equal(g.Expected.Rules.Count, rules.Children.Count);
            foreach (YamlMappingNode rule in rules.Children.Cast<YamlMappingNode>())
                Assert.All(rule.Children.Keys, k => Assert.Contains(((YamlScalarNode)k).Value, ruleKeys));

            foreach (var scalar in root.AllNodes.OfType<YamlScalarNode>())
            {
                string v = scalar.Value!;
                if (v.Contains(':') || v.StartsWith('@') || v.StartsWith('!') || v.Contains(','))
                    Assert.True(scalar.Style == ScalarStyle.DoubleQuoted, $"seed {g.Seed}: {v} is not quoted");
            }
        }
    }

    [Fact]
    public void The_canonical_writer_is_stable_and_keeps_names()
    {
        var rs = Generated[3].Expected;
        string text = RulesetYaml.Write(rs);
        Assert.Equal(text, RulesetYaml.Write(rs));
        foreach (var r in rs.Rules.Where(r => r.Name != $"rule-{r.Index + 1}"))
            Assert.Contains($"name: {r.Name}", text);
        Assert.Equal(rs.Rules.Count, text.Split('\n').Count(l => l.StartsWith("  - ", StringComparison.Ordinal)));
    }

    [Fact]
    public void Generated_frames_reach_every_verdict_and_many_rules()
    {
        var reasons = new Dictionary<Reason, int>();
        var kinds = new Dictionary<string, int>();
        int rules = 0, rulesHit = 0;
        void Count(string kind, bool yes) => kinds[kind] = kinds.GetValueOrDefault(kind) + (yes ? 1 : 0);

        foreach (var g in Generated.Take(40))
        {
            var frames = new FrameGenerator(g.Expected, g.Seed);
            var hit = new HashSet<int>();
            for (int i = 0; i < 500; i++)
            {
                byte[] f = frames.Next();
                var result = ReferenceEvaluator.Evaluate(g.Expected, f);
                reasons[result.Reason] = reasons.GetValueOrDefault(result.Reason) + 1;
                if (result.Reason == Reason.Rule)
                    hit.Add(result.RuleIndex);

                var p = FrameParser.Parse(f); // must not throw on anything generated
                Count("shorter than ethernet", f.Length < 14);
                Count("one tag", p.Vlans.Count == 1);
                Count("two tags", p.Vlans.Count == 2);
                Count("three tags", p.Vlans.Count == 3);
                Count("arp", p.EtherType == EtherTypes.Arp);
                Count("ipv4 options", p.Ipv4?.Ihl > 5);
                Count("ipv4 non-first fragment", p.Ipv4?.FragmentOffset > 0);
                Count("ipv4 first fragment", p.Ipv4 is { MoreFragments: true, FragmentOffset: 0 });
                Count("ipv4 wrong version", p.Ipv4 is { Version: not 4 });
                Count("ipv4 IHL < 5", p.Ipv4?.Ihl < 5);
                Count("ipv6 extensions", p.Ipv6?.Extensions.Count > 0);
                Count("ipv6 9+ extensions", p.Ipv6?.Extensions.Count >= 9);
                Count("ipv6 non-first fragment", p.Ipv6 is not null && p.NonFirstFragment);
                Count("ipv6 first fragment", p.Ipv6?.Extensions.Any(e => e.FragmentOffset == 0) == true);
                Count("ipv6 AH", p.Ipv6?.Extensions.Any(e => e.Type == 51) == true);
                Count("tcp", p.Tcp is not null);
                Count("udp", p.Udp is not null);
                Count("icmp", p.Icmp is { V6: false } && p.Ipv4 is not null);
                Count("icmpv6", p.Icmp is { V6: true } && p.Ipv6 is not null);
                Count("icmp in ipv6", p.Ipv6?.Protocol == 1);
                Count("icmpv6 in ipv4", p.Ipv4?.Protocol == 58);
                Count("truncated", p.Problem?.Contains("present") == true);
            }
            rules += g.Expected.Rules.Count;
            rulesHit += hit.Count;
        }

        Assert.All(Enum.GetValues<Reason>(), r => Assert.True(reasons.GetValueOrDefault(r) > 200, $"{r}: {reasons.GetValueOrDefault(r)}"));
        Assert.True(reasons[Reason.Rule] > reasons.Values.Sum() / 3, $"rule hits: {reasons[Reason.Rule]}");
        Assert.True(rulesHit * 2 > rules, $"{rulesHit} of {rules} rules hit");
        Assert.Empty(kinds.Where(kv => kv.Value < 20).Select(kv => $"{kv.Key}: {kv.Value}"));
    }
}
