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
    public string Label => $"{Rules:N0} rules, {Prefixes:N0} prefixes{(DefaultDrop ? "" : ", default: pass")}{(Stateful ? ", state rules on top" : "")}";

    /// <summary>
    /// Writes and compiles the ruleset; the mixes are first rule, last rule and no match unless given (stateful:
    /// established and no match).
    /// </summary>
    public static RulesetCase Build(string dir, int rules, int prefixes, bool defaultDrop = true, IReadOnlyList<Mix>? mixes = null, bool stateful = false)
    {
        var sw = Stopwatch.StartNew();
        string path = Synthetic.Write(dir, rules, prefixes, defaultDrop, stateful: stateful);
        var check = RulesCheck.Check(path);
        if (!check.Ok)
            throw new InvalidOperationException($"{path}: " + string.Join("\n", check.Diagnostics));
        mixes ??= stateful ? [Synthetic.Established(), Synthetic.NoMatch()]
            : [Synthetic.First(rules, prefixes), Synthetic.Last(rules, prefixes), Synthetic.NoMatch()];
        return new RulesetCase(rules, prefixes, defaultDrop, stateful, path, check, sw.Elapsed.TotalMilliseconds, mixes);
    }

    /// <summary>The XDP verdict every packet of <paramref name="mix"/> gets: its rule's action; no match gets the default.</summary>
    public XdpAction Verdict(Mix mix) => mix.Rule is int i
        ? Check.Ruleset!.Rules[i].Action == RuleAction.Pass ? XdpAction.Pass : XdpAction.Drop
        : DefaultDrop ? XdpAction.Drop : XdpAction.Pass;
}
