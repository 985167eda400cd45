using System.Diagnostics;
using Fw.Compiler;
using Fw.Kernel;
using Fw.Bpf;
using Fw.Control;

namespace Fw.Bench;

/// <summary>One synthetic ruleset of the grid, written and compiled once, with the mixes measured against it.</summary>
public sealed record RulesetCase(int Rules, int Prefixes, bool DefaultDrop, string Path, CheckResult Check, double CompileMs, IReadOnlyList<Mix> Mixes)
{
    public string Label => $"{Rules:N0} rules, {Prefixes:N0} prefixes{(DefaultDrop ? "" : ", default: pass")}";

    /// <summary>Writes and compiles the ruleset; the mixes are first rule, last rule and no match unless given.</summary>
    public static RulesetCase Build(string dir, int rules, int prefixes, bool defaultDrop = true, IReadOnlyList<Mix>? mixes = null)
    {
        var sw = Stopwatch.StartNew();
        string path = Synthetic.Write(dir, rules, prefixes, defaultDrop);
        var check = RulesCheck.Check(path);
        if (!check.Ok)
            throw new InvalidOperationException($"{path}: " + string.Join("\n", check.Diagnostics));
        mixes ??= [Synthetic.First(rules, prefixes), Synthetic.Last(rules, prefixes), Synthetic.NoMatch()];
        return new RulesetCase(rules, prefixes, defaultDrop, path, check, sw.Elapsed.TotalMilliseconds, mixes);
    }

    /// <summary>The XDP verdict every packet of <paramref name="mix"/> gets: every rule drops; no match gets the default.</summary>
    public XdpAction Verdict(Mix mix) => mix.Rule is not null || DefaultDrop ? XdpAction.Drop : XdpAction.Pass;
}
