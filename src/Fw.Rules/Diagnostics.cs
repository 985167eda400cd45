namespace Fw.Rules;

public enum Severity
{
    Error,
    Warning,
}

/// <summary>One finding about a rules file, printed as nft does: FILE:LINE:COL: error: message.</summary>
/// <param name="Message">One line; control characters in it are kept as \uXXXX (<see cref="Printable.Clean"/>), wherever it is shown.</param>
/// <param name="Length">How many characters of the line the finding covers (the ^~~ underline).</param>
public sealed record Diagnostic(Severity Severity, SourcePos Pos, string Message, int Length = 1)
{
    public string Message { get; init => field = Printable.Clean(value); } = Printable.Clean(Message);

    /// <summary>
    /// The line as it was read, when the reader kept it (set files: what is shown of a set file is what was read
    /// from it, never a second read that may find another file there); null: the printer reads the line itself.
    /// </summary>
    public SourceLine? Source { get; init; }

    public override string ToString() =>
        Printable.Clean($"{Pos}: {(Severity == Severity.Error ? "error" : "warning")}: {Message}");
}

/// <summary>
/// The part of a source line a finding shows: <paramref name="Text"/> as read (cut to
/// <see cref="DiagnosticWriter.MaxLineShown"/> characters around the finding, "..." where cut), and the finding's
/// 1-based column and length in it.
/// </summary>
public sealed record SourceLine(string Text, int Column, int Length)
{
    /// <summary>The line around <paramref name="column"/>, cut when longer than <see cref="DiagnosticWriter.MaxLineShown"/>.</summary>
    public static SourceLine Of(string line, int column, int length)
    {
        column = Math.Clamp(column, 1, line.Length + 1);
        length = Math.Max(1, Math.Min(length, line.Length - (column - 1)));
        if (line.Length > DiagnosticWriter.MaxLineShown)
            (line, column, length) = DiagnosticWriter.Window(line, column, length);
        return new SourceLine(line, column, length);
    }
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
