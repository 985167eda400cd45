namespace Fw.Rules;

public enum Severity
{
    Error,
    Warning,
}

/// <summary>One finding about a rules file, printed as nft does: FILE:LINE:COL: error: message.</summary>
/// <param name="Length">How many characters of the line the finding covers (the ^~~ underline).</param>
public sealed record Diagnostic(Severity Severity, SourcePos Pos, string Message, int Length = 1)
{
    public override string ToString() =>
        $"{Pos}: {(Severity == Severity.Error ? "error" : "warning")}: {Message}";
}

/// <summary>Thrown where rules cannot become a ruleset; carries every error found, not only the first.</summary>
public sealed class RulesException(IReadOnlyList<Diagnostic> diagnostics)
    : Exception(string.Join(Environment.NewLine, diagnostics))
{
    public IReadOnlyList<Diagnostic> Diagnostics { get; } = diagnostics;
}

/// <summary>The result of reading a rules file: a ruleset when there were no errors, and every finding.</summary>
public sealed record LoadResult(Ruleset? Ruleset, IReadOnlyList<Diagnostic> Diagnostics)
{
    public bool Ok => Ruleset is not null && Diagnostics.All(d => d.Severity != Severity.Error);

    public IEnumerable<Diagnostic> Errors => Diagnostics.Where(d => d.Severity == Severity.Error);

    public IEnumerable<Diagnostic> Warnings => Diagnostics.Where(d => d.Severity == Severity.Warning);

    public Ruleset RulesetOrThrow() => Ok ? Ruleset! : throw new RulesException(Errors.ToList());
}
