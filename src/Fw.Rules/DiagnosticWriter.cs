using System.Text;

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

    /// <summary>One finding; <paramref name="sourceLines"/> are the lines of its file (null: header only).</summary>
    public static void Write(TextWriter w, Diagnostic d, IReadOnlyList<string>? sourceLines)
    {
        w.WriteLine(d.ToString());
        if (sourceLines is null || d.Length <= 0 || d.Pos.Line < 1 || d.Pos.Line > sourceLines.Count)
            return;
        string line = sourceLines[d.Pos.Line - 1];
        int column = Math.Clamp(d.Pos.Column, 1, line.Length + 1);
        int length = Math.Max(1, Math.Min(d.Length, line.Length - (column - 1)));
        if (line.Length > MaxLineShown)
            (line, column, length) = Window(line, column, length);
        w.WriteLine(Printable(line));
        var underline = new StringBuilder(column + length);
        for (int i = 0; i < column - 1; i++)
            underline.Append(line[i] == '\t' ? '\t' : ' '); // tabs kept so the caret lines up however they render
        underline.Append('^').Append('~', length - 1);
        w.WriteLine(underline.ToString());
    }

    /// <summary>The part of a long line around <paramref name="column"/>, "..." where it is cut, and the finding's place in it.</summary>
    private static (string Line, int Column, int Length) Window(string line, int column, int length)
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

    /// <summary>The line with control characters (tabs kept) as U+FFFD, one for one: the caret still lines up.</summary>
    private static string Printable(string line)
    {
        if (!line.Any(c => c != '\t' && char.IsControl(c)))
            return line;
        return string.Create(line.Length, line, (span, l) =>
        {
            for (int i = 0; i < l.Length; i++)
                span[i] = l[i] != '\t' && char.IsControl(l[i]) ? '\uFFFD' : l[i];
        });
    }

    /// <summary>Every finding of a load, each file's lines read once (only up to the last line needed).</summary>
    /// <param name="sources">Text of files not on disk, by the name diagnostics use (e.g. what was given to Parse).</param>
    public static void Write(TextWriter w, LoadResult result, IReadOnlyDictionary<string, string>? sources = null) =>
        Write(w, result.Diagnostics, sources);

    public static void Write(TextWriter w, IEnumerable<Diagnostic> diagnostics, IReadOnlyDictionary<string, string>? sources = null)
    {
        var list = diagnostics.ToList();
        var lines = new Dictionary<string, IReadOnlyList<string>?>(StringComparer.Ordinal);
        foreach (var group in list.Where(d => d.Length > 0).GroupBy(d => d.Pos.File))
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
    /// The lines findings point at, read again from the file (opened within a time bound like the first
    /// read). Only a regular file with content gives lines: a pipe was drained by that read, and a device
    /// (/dev/zero) reports no size and never ends.
    /// </summary>
    private static SparseLines? ReadLines(string path, HashSet<int> needed, int last)
    {
        try
        {
            using var stream = FileBytes.Open(path);
            if (!stream.CanSeek || stream.Length == 0)
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
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
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
