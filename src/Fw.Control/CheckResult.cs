using Fw.Compiler;
using Fw.Rules;

namespace Fw.Control;

/// <summary>The checked form of a rules file: diagnostics, and when valid the ruleset and its image.</summary>
public sealed record CheckResult(string RulesFile, Ruleset? Ruleset, MapImage? Image, IReadOnlyList<Diagnostic> Diagnostics)
{
    public bool Ok => Image is not null && Diagnostics.All(d => d.Severity != Severity.Error);

    public int Errors => Diagnostics.Count(d => d.Severity == Severity.Error);

    public IEnumerable<Diagnostic> Warnings => Diagnostics.Where(d => d.Severity == Severity.Warning);
}
