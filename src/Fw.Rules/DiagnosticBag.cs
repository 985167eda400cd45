namespace Fw.Rules;

/// <summary>
/// Collects findings while a rules file is read. At most <see cref="MaxPerFile"/> errors are kept per file
/// (a million-line set file full of junk must not produce a million lines); the rest are counted and
/// summed up in one last error for that file.
/// </summary>
internal sealed class DiagnosticBag(string mainFile)
{
    public const int MaxPerFile = 100;

    private readonly List<Diagnostic> items = [];
    private readonly Dictionary<string, (int Kept, int Dropped, SourcePos FirstDropped)> perFile = new(StringComparer.Ordinal);

    public int ErrorCount { get; private set; }

    /// <summary>Whether an error in <paramref name="file"/> would still be kept (not only counted): costly messages are built only then.</summary>
    public bool Keeps(string file) => !perFile.TryGetValue(file, out var f) || f.Kept < MaxPerFile;

    public void Error(SourcePos pos, string message, int length = 1) => Add(new Diagnostic(Severity.Error, pos, message, length));

    public void Add(Diagnostic d)
    {
        if (d.Severity == Severity.Error)
        {
            ErrorCount++;
            perFile.TryGetValue(d.Pos.File, out var f);
            if (f.Kept >= MaxPerFile)
            {
                perFile[d.Pos.File] = (f.Kept, f.Dropped + 1, f.Dropped == 0 ? d.Pos : f.FirstDropped);
                return;
            }
            perFile[d.Pos.File] = (f.Kept + 1, f.Dropped, f.FirstDropped);
        }
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
        foreach (var (file, f) in perFile)
        {
            if (f.Dropped > 0)
                all.Add(new Diagnostic(Severity.Error, f.FirstDropped,
                    $"{f.Dropped} more error{(f.Dropped == 1 ? "" : "s")} in {file} not shown", 0));
        }
        var order = new Dictionary<string, int>(StringComparer.Ordinal) { [mainFile] = 0 };
        foreach (var d in all)
            order.TryAdd(d.Pos.File, order.Count);
        // OrderBy is stable: findings at one position keep the order they were made in.
        return all.OrderBy(d => order[d.Pos.File]).ThenBy(d => d.Pos.Line).ThenBy(d => d.Pos.Column).ToList();
    }
}
