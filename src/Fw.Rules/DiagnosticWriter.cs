using System.Text;
using Fw.Bpf;

namespace Fw.Rules;

/// <summary>
/// Prints findings as nft and clang do:
/// <code>
/// rules.yaml:12:13: error: unknown action 'dorp'
///     action: dorp
///             ^~~~
/// </code>
/// A finding with <see cref="Diagnostic.Length"/> 0 is about the whole file (unreadable, empty): no source line.
/// </summary>
public static class DiagnosticWriter
{
    /// <summary>Characters of a source line shown; a longer line (a 10 MB value) is cut to this much around the finding.</summary>
    public const int MaxLineShown = 160;

    /// <summary>One finding; <paramref name="sourceLines"/> are the lines of its file (null: header only, unless the finding kept its line).</summary>
    public static void Write(TextWriter w, Diagnostic d, IReadOnlyList<string>? sourceLines)
    {
        w.WriteLine(d.ToString());
        if (d.Length <= 0)
            return;
        var shown = d.Source;
        if (shown is null)
        {
            if (sourceLines is null || d.Pos.Line < 1 || d.Pos.Line > sourceLines.Count)
                return;
            shown = SourceLine.Of(sourceLines[d.Pos.Line - 1], d.Pos.Column, d.Length);
        }
        WriteLine(w, shown);
    }

    /// <summary>
    /// The line, with control characters shown as \uXXXX (<see cref="Printable"/>; tabs kept), and the ^~~ under
    /// the finding, widened where an escaped character stands so that it still lines up.
    /// </summary>
    private static void WriteLine(TextWriter w, SourceLine s)
    {
        var text = new StringBuilder(s.Text.Length + 16);
        var underline = new StringBuilder(s.Column + s.Length + 8);
        int from = s.Column - 1, to = from + s.Length;
        for (int i = 0; i < s.Text.Length && i < to; i++)
        {
            char c = s.Text[i];
            string shown = c == '\t' ? "\t" : Printable.Show(c);
            text.Append(shown);
            if (i < from)
                underline.Append(c == '\t' ? '\t' : ' ', shown.Length);   // tabs kept so the caret lines up however they render
            else
                underline.Append(i == from ? '^' : '~').Append('~', shown.Length - 1);
        }
        for (int i = to; i < s.Text.Length; i++)
            text.Append(s.Text[i] == '\t' ? "\t" : Printable.Show(s.Text[i]));
        if (from >= s.Text.Length)
            underline.Append('^');   // the finding is at the end of the line
        w.WriteLine(text.ToString());
        w.WriteLine(underline.ToString());
    }

    /// <summary>The part of a long line around <paramref name="column"/>, "..." where it is cut, and the finding's place in it.</summary>
    internal static (string Line, int Column, int Length) Window(string line, int column, int length)
    {
        int start = Math.Max(0, Math.Min(column - 1 - MaxLineShown / 4, line.Length - MaxLineShown));
        int end = Math.Min(line.Length, start + MaxLineShown);
        if (start > 0 && char.IsLowSurrogate(line[start]))
            start++;   // never half a character
        if (end < line.Length && char.IsLowSurrogate(line[end]))
            end--;
        string head = start > 0 ? "..." : "", tail = end < line.Length ? "..." : "";
        return (head + line[start..end] + tail, column - start + head.Length, Math.Max(1, Math.Min(length, end - (column - 1))));
    }

    /// <summary>Every finding of a load, each file's lines read once (only up to the last line needed).</summary>
    /// <param name="sources">Text of files not on disk, by the name diagnostics use (e.g. what was given to Parse).</param>
    public static void Write(TextWriter w, LoadResult result, IReadOnlyDictionary<string, string>? sources = null) =>
        Write(w, result.Diagnostics, sources);

    public static void Write(TextWriter w, IEnumerable<Diagnostic> diagnostics, IReadOnlyDictionary<string, string>? sources = null)
    {
        var list = diagnostics.ToList();
        var lines = new Dictionary<string, IReadOnlyList<string>?>(StringComparer.Ordinal);
        foreach (var group in list.Where(d => d.Length > 0 && d.Source is null).GroupBy(d => d.Pos.File))
        {
            int last = group.Max(d => d.Pos.Line);
            var needed = group.Select(d => d.Pos.Line).ToHashSet();
            lines[group.Key] = sources is not null && sources.TryGetValue(group.Key, out var text)
                ? SplitLines(text)
                : ReadLines(group.Key, needed, last);
        }
        foreach (var d in list)
            Write(w, d, lines.GetValueOrDefault(d.Pos.File));
    }

    /// <summary>Lines as the YAML parser counts them: \n, \r\n and a lone \r each end one.</summary>
    public static IReadOnlyList<string> SplitLines(string text) =>
        text.ReplaceLineEndings("\n").Split('\n');

    /// <summary>
    /// The lines findings point at, read again from the file: only a regular file (<see cref="RegularFile"/>,
    /// which never blocks), and only the rules file's findings come here (set files' findings keep their lines).
    /// </summary>
    private static SparseLines? ReadLines(string path, HashSet<int> needed, int last)
    {
        try
        {
            using var stream = RegularFile.OpenRead(path);
            if (stream.Length == 0)
                return null;
            using var reader = new StreamReader(stream, Encoding.UTF8);
            var found = new Dictionary<int, string>();
            int n = 0;
            for (string? line; (line = reader.ReadLine()) is not null;)
            {
                if (++n > last)
                    break;
                if (needed.Contains(n))
                    found[n] = line;
            }
            return new SparseLines(found, n);
        }
        catch (Exception e) when (e is IOException or BpfException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            return null;
        }
    }

    /// <summary>The few lines of a (possibly million-line) file that findings point at.</summary>
    private sealed class SparseLines(Dictionary<int, string> lines, int count) : IReadOnlyList<string>
    {
        public string this[int index] => lines.GetValueOrDefault(index + 1, "");

        public int Count => count;

        public IEnumerator<string> GetEnumerator() => Enumerable.Range(0, count).Select(i => this[i]).GetEnumerator();

        System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();
    }
}
