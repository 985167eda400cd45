using Fw.Rules;
using Fw.Packets;
using Fw.Testing.Random;
using Fw.Testing.Reference;
using Xunit;

namespace Fw.Tests.Testing;

/// <summary>
/// The generator against the real parser: every generated text must load without an error, and load as
/// the ruleset the generator meant (same fields, and the same verdict for every generated frame).
/// </summary>
public class GeneratedRulesetLoadTests
{
    const int Seeds = 200;

    static LoadResult Load(GeneratedRuleset g) =>
        RulesLoader.Parse(g.Yaml, $"generated-{g.Seed}.yaml", Path.GetTempPath());

    [Fact]
    public void Two_hundred_generated_rulesets_load_without_errors()
    {
        var failures = new List<string>();
        for (int seed = 0; seed < Seeds; seed++)
        {
            var g = RulesetGenerator.GenerateWithModel(seed);
            var result = Load(g);
            if (!result.Ok)
                failures.Add($"seed {seed}:\n{string.Join("\n", result.Errors)}\n{g.Yaml}");
        }
        Assert.True(failures.Count == 0, string.Join("\n\n", failures.Take(3)));
    }

    [Fact]
    public void The_parser_reads_what_the_generator_meant()
    {
        for (int seed = 0; seed < Seeds; seed++)
        {
            var g = RulesetGenerator.GenerateWithModel(seed);
            var loaded = Load(g).RulesetOrThrow();
            Assert.True(Describe(g.Expected) == Describe(loaded),
                $"seed {seed}: expected\n{Describe(g.Expected)}\nloaded\n{Describe(loaded)}\nfrom\n{g.Yaml}");
        }
    }

    /// <summary>With live sets (dynamic, timeout, max; in src, dst and add_to) and limits: read as meant too.</summary>
    [Fact]
    public void The_parser_reads_live_sets_and_limits_as_the_generator_meant()
    {
        int live = 0, limited = 0;
        for (int seed = 0; seed < Seeds; seed++)
        {
            var g = RulesetGenerator.GenerateWithModel(seed, features: RulesetFeatures.All);
            var result = Load(g);
            Assert.True(result.Ok, $"seed {seed}:\n{string.Join("\n", result.Errors)}\n{g.Yaml}");
            var loaded = result.RulesetOrThrow();
            Assert.True(Describe(g.Expected) == Describe(loaded),
                $"seed {seed}: expected\n{Describe(g.Expected)}\nloaded\n{Describe(loaded)}\nfrom\n{g.Yaml}");
            live += loaded.LiveSets.Count();
            limited += loaded.Rules.Count(r => r.Limit is not null);
        }
        Assert.True(live > Seeds && limited > Seeds, $"{live} live sets, {limited} limits in {Seeds} rulesets");
    }

    [Fact]
    public void The_loaded_and_the_meant_ruleset_give_the_same_verdicts()
    {
        for (int seed = 0; seed < Seeds; seed += 4)
        {
            var g = RulesetGenerator.GenerateWithModel(seed);
            var loaded = Load(g).RulesetOrThrow();
            var frames = new FrameGenerator(g.Expected, seed);
            for (int i = 0; i < 200; i++)
            {
                byte[] f = frames.Next();
                var meant = ReferenceEvaluator.Evaluate(g.Expected, f);
                var got = ReferenceEvaluator.Evaluate(loaded, f);
                Assert.True(meant == got, $"seed {seed} frame {FrameHex.Format(f)}: meant {meant}, loaded {got}");
            }
        }
    }

    /// <summary>The ruleset's meaning as text: lists as sorted sets, sets by name, positions left out.</summary>
    static string Describe(Ruleset rs)
    {
        static string Sorted<T>(IEnumerable<T>? items) =>
            items is null ? "-" : "[" + string.Join(",", items.Distinct().Order().Select(i => i!.ToString())) + "]";

        static string Address(AddressMatch? m) =>
            m is null ? "-" : $"{Sorted(m.Prefixes)} sets {Sorted(m.Sets.Select(s => s.Name))}";

        var lines = new List<string> { $"default {rs.Default} malformed {rs.Malformed} non_ip {rs.NonIp}" };
        foreach (var set in rs.Sets.Values.OrderBy(s => s.Name, StringComparer.Ordinal))
            lines.Add($"set {set.Name} {Sorted(set.Prefixes)}" + (set.Dynamic ? $" dynamic timeout {set.Timeout?.ToString() ?? "-"} max {set.Max}" : ""));
        foreach (var r in rs.Rules)
            lines.Add($"{r.Index} {r.Name}: src {Address(r.Src)} dst {Address(r.Dst)} proto {Sorted(r.Proto)}"
                + $" sport {Sorted(r.Sport?.Select(p => p.ToString()))} dport {Sorted(r.Dport?.Select(p => p.ToString()))}"
                + $" flags {r.TcpFlags?.ToString() ?? "-"} icmp {Sorted(r.IcmpType)} {r.Action} {r.To ?? "-"}"
                + $" limit {r.Limit?.ToString() ?? "-"} add_to {r.AddTo?.Name ?? "-"}");
        return string.Join("\n", lines);
    }
}
