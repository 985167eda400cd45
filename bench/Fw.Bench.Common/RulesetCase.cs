using System.Diagnostics;
using Fw.Compiler;
using Fw.Kernel;
using Fw.Bpf;
using Fw.Control;
using Fw.Rules;

namespace Fw.Bench;

/// <summary>
/// One synthetic ruleset of the grid, written and compiled once, with the mixes measured against it.
/// <see cref="Stateful"/>: the connection-tracking rules on top of the <see cref="Rules"/> rules (Synthetic.StateRules).
/// </summary>
public sealed record RulesetCase(int Rules, int Prefixes, bool DefaultDrop, bool Stateful, string Path, CheckResult Check, double CompileMs, IReadOnlyList<Mix> Mixes)
{
    /// <summary>The packet-log variant: a logged rule on top, matching the traffic or not (Synthetic.LogRule).</summary>
    public BenchLog Log { get; init; }

    /// <summary>The live set + limit variants: a live set rule and a limit rule on top, or one of them (Synthetic.LiveSetRule, Synthetic.LimitRule).</summary>
    public BenchLive Live { get; init; }

    /// <summary>Whether the ruleset has the live set (and its rule) the bench fills after the attach.</summary>
    public bool HasLiveSet => Live is BenchLive.SetAndLimit or BenchLive.Set;

    /// <summary>Whether the ruleset has the limit rule, every no-match packet a check within its rate.</summary>
    public bool HasLimit => Live is BenchLive.SetAndLimit or BenchLive.Limit;

    public string Label => $"{Rules:N0} rules, {Prefixes:N0} prefixes{(DefaultDrop ? "" : ", default: pass")}{(Stateful ? ", state rules on top" : "")}" +
        Log switch { BenchLog.Matching => ", logged rule on top", BenchLog.Elsewhere => ", log elsewhere", _ => "" } +
        Live switch { BenchLive.SetAndLimit => ", live set + limit on top", BenchLive.Set => ", live set on top", BenchLive.Limit => ", limit on top", _ => "" };

    /// <summary>
    /// Writes and compiles the ruleset; the mixes are first rule, last rule and no match unless given (stateful:
    /// established and no match).
    /// </summary>
    public static RulesetCase Build(string dir, int rules, int prefixes, bool defaultDrop = true, IReadOnlyList<Mix>? mixes = null, bool stateful = false, BenchLog log = BenchLog.None, BenchLive live = BenchLive.None)
    {
        var sw = Stopwatch.StartNew();
        string path = Synthetic.Write(dir, rules, prefixes, defaultDrop, stateful: stateful, log: log, live: live);
        var check = RulesCheck.Check(path);
        if (!check.Ok)
            throw new InvalidOperationException($"{path}: " + string.Join("\n", check.Diagnostics));
        // The log variants: the no-match mix, which the logged rule (rule 0) matches, or nothing does; the live set +
        // limit variant: the no-match mix, which misses the live set and is within the limit, so no rule matches.
        mixes ??= live != BenchLive.None ? [Synthetic.NoMatch()]
            : log == BenchLog.Matching ? [Synthetic.NoMatch() with { Name = "logged", Rule = 0 }]
            : log == BenchLog.Elsewhere ? [Synthetic.NoMatch()]
            : stateful ? [Synthetic.Established(), Synthetic.NoMatch()]
            : [Synthetic.First(rules, prefixes), Synthetic.Last(rules, prefixes), Synthetic.NoMatch()];
        return new RulesetCase(rules, prefixes, defaultDrop, stateful, path, check, sw.Elapsed.TotalMilliseconds, mixes) { Log = log, Live = live };
    }

    /// <summary>The XDP verdict every packet of <paramref name="mix"/> gets: its rule's action; no match gets the default.</summary>
    public XdpAction Verdict(Mix mix) => mix.Rule is int i
        ? Check.Ruleset!.Rules[i].Action == RuleAction.Pass ? XdpAction.Pass : XdpAction.Drop
        : DefaultDrop ? XdpAction.Drop : XdpAction.Pass;
}
