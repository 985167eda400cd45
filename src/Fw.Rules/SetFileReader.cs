using System.Text;
using System.Text.Unicode;

namespace Fw.Rules;

/// <summary>Counts prefixes across sets and rules; where the count passes the bound, reports it and ends the read.</summary>
internal sealed class PrefixBudget(DiagnosticBag diagnostics)
{
    public long Count { get; private set; }

    /// <summary>Whether taking <paramref name="count"/> more prefixes passes the bound (and <see cref="Take"/> would stop the read).</summary>
    public bool Exceeds(int count) => Count <= FwLimits.MaxPrefixes && Count + count > FwLimits.MaxPrefixes;

    /// <summary>Counts <paramref name="count"/> prefixes at <paramref name="pos"/>; throws <see cref="StopReading"/> past the bound.</summary>
    /// <param name="source">The line as read, for a finding in a set file.</param>
    public void Take(SourcePos pos, int length, int count = 1, SourceLine? source = null)
    {
        if (Exceeds(count))
        {
            Count += count;
            diagnostics.Add(new Diagnostic(Severity.Error, pos,
                $"ruleset exceeds {FwLimits.MaxPrefixes} prefixes (sets and rules together); this is prefix {FwLimits.MaxPrefixes + 1}", length) { Source = source });
            throw new StopReading();
        }
        Count += count;
    }
}

/// <summary>
/// Ends the read of a rules file where a bound is passed: the file is refused, and reading on would only cost
/// (YAML parses at a few MB/s). What was read is still checked.
/// </summary>
internal sealed class StopReading : Exception;

/// <summary>
/// Reads the set files of one rules file: one address or prefix a line, '#' starts a comment (whole line or
/// trailing), blank lines ignored. Works on the raw bytes with the span parser: a million lines take tens
/// of milliseconds. Each file is read once, however many sets name it.
/// </summary>
/// <remarks>
/// A set file is read only if it is a regular file inside the rules file's folder or below, every symbolic link
/// resolved (<see cref="SetFileTree"/>): fwctl and fwd run as root, and a rules file must not make them read, and
/// quote line by line in their errors, /etc/shadow. Anything else is an error at the file: value, and not one
/// byte of it is read. What a finding shows of a set file's line is what was read (<see cref="Diagnostic.Source"/>).
/// </remarks>
internal sealed class SetFileReader(DiagnosticBag diagnostics, PrefixBudget budget, string baseDirectory)
{
    /// <summary>Largest set file read (a million IPv6 prefixes with comments fit many times over).</summary>
    public const long MaxBytes = 256L << 20;

    /// <summary>Files read so far (by full path): their prefixes, or why they could not be read.</summary>
    private readonly Dictionary<string, (List<IpPrefix>? Prefixes, string? Failure)> read = new(StringComparer.Ordinal);

    private readonly SetFileTree tree = new(baseDirectory);

    /// <param name="path">The file as diagnostics name it (relative to the rules file's folder, as resolved).</param>
    /// <param name="filePos">Where the file: value stands in the rules file; file-level errors go there.</param>
    /// <returns>The prefixes, or null when the file could not be read at all.</returns>
    public List<IpPrefix>? Read(string path, SourcePos filePos, int fileLength)
    {
        string key = FullPath(path);
        if (!read.TryGetValue(key, out var file))
        {
            // Lines' errors are reported (at the file's own lines) and the prefixes counted on this first read.
            file.Prefixes = ReadFile(path, out file.Failure);
            read[key] = file;
        }
        else if (file.Prefixes is not null)
        {
            budget.Take(filePos, fileLength, file.Prefixes.Count);
        }
        if (file.Failure is not null)
            diagnostics.Error(filePos, file.Failure, fileLength);
        return file.Prefixes;
    }

    private static string FullPath(string path)
    {
        try
        {
            return Path.GetFullPath(path);
        }
        catch (Exception e) when (e is ArgumentException or NotSupportedException or PathTooLongException)
        {
            return path;
        }
    }

    /// <summary>The file's prefixes, errors in its lines reported there; null and <paramref name="failure"/> when it cannot be read.</summary>
    private List<IpPrefix>? ReadFile(string path, out string? failure)
    {
        failure = null;
        byte[] data;
        string shown = SetFileTree.Show(path);
        try
        {
            using var stream = tree.OpenRead(path, out failure);
            if (stream is null)
                return null;
            data = FileBytes.Read(stream, MaxBytes, out long size) ?? [];
            if (size > MaxBytes)
            {
                failure = $"set file '{shown}' is too large ({size:N0} bytes; at most {MaxBytes >> 20} MiB)";
                return null;
            }
        }
        catch (Exception e) when (FileBytes.IsReadFailure(e))
        {
            failure = $"cannot read set file '{shown}': {FileBytes.Reason(e)}";
            return null;
        }
        return Parse(path, shown, data, out failure);
    }

    /// <summary>
    /// The prefixes of a set file's bytes (<paramref name="path"/> names it in findings, <paramref name="shown"/> in
    /// failures), errors in its lines reported there; null and <paramref name="failure"/> when it is not text.
    /// </summary>
    internal List<IpPrefix>? Parse(string path, string shown, ReadOnlySpan<byte> data, out string? failure)
    {
        failure = null;
        ReadOnlySpan<byte> text = data;
        if (text.StartsWith((ReadOnlySpan<byte>)[0xEF, 0xBB, 0xBF]))
            text = text[3..];
        int nul = text.IndexOf((byte)0);
        if (nul >= 0)
        {
            var (l, c) = FileBytes.LineColumn(text, nul);
            failure = $"set file '{shown}' is binary, not text (NUL byte at line {l}, column {c})";
            return null;
        }
        if (!Utf8.IsValid(text))
        {
            int bad = FileBytes.FirstInvalidUtf8(text);
            var (l, c) = FileBytes.LineColumn(text, bad);
            failure = $"set file '{shown}' is not UTF-8 text (invalid byte 0x{text[bad]:X2} at line {l}, column {c})";
            return null;
        }

        var prefixes = new List<IpPrefix>(EstimateLines(text));
        int lineNo = 0;
        int start = 0;
        while (start < text.Length)
        {
            int nl = text[start..].IndexOf((byte)'\n');
            var line = nl < 0 ? text[start..] : text.Slice(start, nl);
            var whole = line;
            start = nl < 0 ? text.Length : start + nl + 1;
            lineNo++;

            int hash = line.IndexOf((byte)'#');
            if (hash >= 0)
                line = line[..hash];
            int s = 0;
            while (s < line.Length && line[s] is (byte)' ' or (byte)'\t')
                s++;
            int e = line.Length;
            while (e > s && line[e - 1] is (byte)' ' or (byte)'\t' or (byte)'\r')
                e--;
            if (s == e)
                continue;

            var token = line[s..e];
            int gap = token.IndexOfAny((byte)' ', (byte)'\t');
            if (gap >= 0)
            {
                Report(Severity.Error, new SourcePos(path, lineNo, s + gap + 2), "one address or prefix per line (use '#' for comments)", e - s - gap - 1, whole);
                continue;
            }
            var error = PrefixParser.TryParse(token, out var prefix);
            if (error != PrefixError.None)
            {
                // Past the errors kept per file the message is not built (a million bad lines).
                string message = diagnostics.Keeps(path) ? PrefixParser.Describe(error, token, prefix) : "";
                Report(Severity.Error, new SourcePos(path, lineNo, s + 1), message, token.Length, whole);
                continue;
            }
            prefixes.Add(prefix);
            if (MappedIPv4.IsMapped(prefix))
            {
                string message = diagnostics.KeepsWarning(path) ? MappedIPv4.Warning(prefix, Encoding.UTF8.GetString(token)) : "";
                Report(Severity.Warning, new SourcePos(path, lineNo, s + 1), message, token.Length, whole);
            }
            budget.Take(new SourcePos(path, lineNo, s + 1), token.Length, 1, budget.Exceeds(1) ? LineOf(whole, s + 1, token.Length) : null);
        }
        return prefixes;
    }

    /// <summary>A finding in a set file, with its line as read (see <see cref="Diagnostic.Source"/>).</summary>
    private void Report(Severity severity, SourcePos pos, string message, int length, ReadOnlySpan<byte> line)
    {
        if (severity == Severity.Error ? !diagnostics.Keeps(pos.File) : !diagnostics.KeepsWarning(pos.File))
        {
            diagnostics.Add(new Diagnostic(severity, pos, "", length));   // only counted: no message, no line
            return;
        }
        diagnostics.Add(new Diagnostic(severity, pos, message, length) { Source = LineOf(line, pos.Column, length) });
    }

    /// <summary>
    /// What a finding shows of a set file's line: at most <see cref="DiagnosticWriter.MaxLineShown"/> characters
    /// around it. Only a window of the bytes is decoded (a line may be the whole 256 MiB file).
    /// </summary>
    internal static SourceLine LineOf(ReadOnlySpan<byte> line, int column, int length)
    {
        if (line.Length > 0 && line[^1] == (byte)'\r')
            line = line[..^1];
        const int Around = 2 * DiagnosticWriter.MaxLineShown;
        int from = Math.Max(0, column - 1 - Around), to = (int)Math.Min(line.Length, (long)column - 1 + Around);
        while (from > 0 && from < line.Length && (line[from] & 0xC0) == 0x80)
            from++;   // never half a character
        while (to < line.Length && to > from && (line[to] & 0xC0) == 0x80)
            to--;
        string head = from > 0 ? "..." : "", tail = to < line.Length ? "..." : "";
        string text = head + Encoding.UTF8.GetString(line[from..to]) + tail;
        return SourceLine.Of(text, column - from + head.Length, length);
    }

    private static int EstimateLines(ReadOnlySpan<byte> text) =>
        (int)Math.Min(FwLimits.MaxPrefixes + 1, text.Count((byte)'\n') + 1);
}
