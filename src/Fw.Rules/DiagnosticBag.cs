namespace Fw.Rules;

/// <summary>
/// Collects findings while a rules file is read. At most <see cref="MaxPerFile"/> errors and as many warnings are
/// kept per file (a million-line set file full of junk, or of IPv4-mapped addresses, must not produce a million
/// lines); the rest are counted and summed up in one last finding of that kind for that file.
/// </summary>
internal sealed class DiagnosticBag(string mainFile)
{
    public const int MaxPerFile = 100;

    private readonly List<Diagnostic> items = [];
    private readonly Dictionary<(string File, Severity Severity), (int Kept, int Dropped, SourcePos FirstDropped)> perFile = [];

    public int ErrorCount { get; private set; }

    /// <summary>Whether an error in <paramref name="file"/> would still be kept (not only counted): costly messages are built only then.</summary>
    public bool Keeps(string file) => Keeps(file, Severity.Error);

    /// <summary>As <see cref="Keeps(string)"/>, for a warning.</summary>
    public bool KeepsWarning(string file) => Keeps(file, Severity.Warning);

    private bool Keeps(string file, Severity severity) => !perFile.TryGetValue((file, severity), out var f) || f.Kept < MaxPerFile;

    public void Error(SourcePos pos, string message, int length = 1) => Add(new Diagnostic(Severity.Error, pos, message, length));

    public void Add(Diagnostic d)
    {
        if (d.Severity == Severity.Error)
            ErrorCount++;
        var key = (d.Pos.File, d.Severity);
        perFile.TryGetValue(key, out var f);
        if (f.Kept >= MaxPerFile)
        {
            perFile[key] = (f.Kept, f.Dropped + 1, f.Dropped == 0 ? d.Pos : f.FirstDropped);
            return;
        }
        perFile[key] = (f.Kept + 1, f.Dropped, f.FirstDropped);
        items.Add(d);
    }

    public void AddRange(IEnumerable<Diagnostic> ds)
    {
        foreach (var d in ds)
            Add(d);
    }

    /// <summary>Every finding, the main file's first, each file's in line and column order.</summary>
    public IReadOnlyList<Diagnostic> Finish()
    {
        var all = new List<Diagnostic>(items);
        foreach (var ((file, severity), f) in perFile)
        {
            if (f.Dropped > 0)
            {
                string kind = severity == Severity.Error ? "error" : "warning";
                all.Add(new Diagnostic(severity, f.FirstDropped, $"{f.Dropped} more {kind}{(f.Dropped == 1 ? "" : "s")} in {file} not shown", 0));
            }
        }
        var order = new Dictionary<string, int>(StringComparer.Ordinal) { [mainFile] = 0 };
        foreach (var d in all)
            order.TryAdd(d.Pos.File, order.Count);
        // OrderBy is stable: findings at one position keep the order they were made in.
        return all.OrderBy(d => order[d.Pos.File]).ThenBy(d => d.Pos.Line).ThenBy(d => d.Pos.Column).ToList();
    }
}
