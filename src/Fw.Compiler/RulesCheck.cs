using Fw.Rules;

namespace Fw.Compiler;

/// <summary>The checked form of a rules file: diagnostics, and when valid the ruleset and its image.</summary>
public sealed record CheckResult(Ruleset? Ruleset, MapImage? Image, IReadOnlyList<Diagnostic> Diagnostics)
{
    public bool Ok => Image is not null && Diagnostics.All(d => d.Severity != Severity.Error);
}

/// <summary>
/// Everything `fwctl check` verifies, shared by fwctl and fwd: the file parses and validates, the
/// ruleset compiles within the data plane's bounds, and every redirect target exists.
/// </summary>
public static class RulesCheck
{
    /// <param name="resolveInterface">ifindex of an interface name; throws or returns 0 when it does not exist.</param>
    public static CheckResult Check(string path, Func<string, int> resolveInterface) =>
        Check(RulesLoader.Load(path), resolveInterface);

    public static CheckResult Check(LoadResult loaded, Func<string, int> resolveInterface)
    {
        var diagnostics = loaded.Diagnostics.ToList();
        if (!loaded.Ok)
            return new CheckResult(null, null, diagnostics);
        var rs = loaded.Ruleset!;
        foreach (var rule in rs.Rules.Where(r => r.Action == RuleAction.Redirect))
        {
            int ifindex;
            try
            {
                ifindex = resolveInterface(rule.To!);
            }
            catch (Exception)
            {
                ifindex = 0;
            }
            if (ifindex <= 0)
            {
                diagnostics.Add(new Diagnostic(Severity.Error, rule.PosOf("to"),
                    $"redirect target '{rule.To}' is not an interface on this host", "to".Length));
            }
        }
        MapImage? image = null;
        try
        {
            image = RulesetCompiler.Compile(rs);
        }
        catch (RulesException e)
        {
            diagnostics.AddRange(e.Diagnostics);
        }
        if (diagnostics.Any(d => d.Severity == Severity.Error))
            return new CheckResult(rs, null, diagnostics);
        return new CheckResult(rs, image, diagnostics);
    }
}
