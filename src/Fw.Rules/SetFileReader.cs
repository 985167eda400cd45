using System.Runtime.CompilerServices;
using System.Text.Unicode;

namespace Fw.Rules;

/// <summary>Counts prefixes across sets and rules; where the count passes the bound, reports it and ends the read.</summary>
internal sealed class PrefixBudget(DiagnosticBag diagnostics)
{
    public long Count { get; private set; }

    /// <summary>Counts <paramref name="count"/> prefixes at <paramref name="pos"/>; throws <see cref="StopReading"/> past the bound.</summary>
    public void Take(SourcePos pos, int length, int count = 1)
    {
        if (Count <= FwLimits.MaxPrefixes && Count + count > FwLimits.MaxPrefixes)
        {
            Count += count;
            diagnostics.Error(pos, $"ruleset exceeds {FwLimits.MaxPrefixes} prefixes (sets and rules together); this is prefix {FwLimits.MaxPrefixes + 1}", length);
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
internal sealed class SetFileReader(DiagnosticBag diagnostics, PrefixBudget budget)
{
    /// <summary>Largest set file read (a million IPv6 prefixes with comments fit many times over).</summary>
    public const long MaxBytes = 256L << 20;

    /// <summary>Files read so far (by full path): their prefixes, or why they could not be read.</summary>
    private readonly Dictionary<string, (List<IpPrefix>? Prefixes, string? Failure)> read = new(StringComparer.Ordinal);

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
        try
        {
            if (Directory.Exists(path))
            {
                failure = $"cannot read set file '{path}': it is a directory";
                return null;
            }
            data = FileBytes.Read(path, MaxBytes, out long size) ?? [];
            if (size > MaxBytes)
            {
                failure = $"set file '{path}' is too large ({size:N0} bytes; at most {MaxBytes >> 20} MiB)";
                return null;
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or NotSupportedException or ArgumentException)
        {
            failure = $"cannot read set file '{path}': {FileBytes.Reason(e)}";
            return null;
        }

        ReadOnlySpan<byte> text = data;
        if (text.StartsWith((ReadOnlySpan<byte>)[0xEF, 0xBB, 0xBF]))
            text = text[3..];
        int nul = text.IndexOf((byte)0);
        if (nul >= 0)
        {
            var (l, c) = FileBytes.LineColumn(text, nul);
            failure = $"set file '{path}' is binary, not text (NUL byte at line {l}, column {c})";
            return null;
        }
        if (!Utf8.IsValid(text))
        {
            int bad = FileBytes.FirstInvalidUtf8(text);
            var (l, c) = FileBytes.LineColumn(text, bad);
            failure = $"set file '{path}' is not UTF-8 text (invalid byte 0x{text[bad]:X2} at line {l}, column {c})";
            return null;
        }

        var prefixes = new List<IpPrefix>(EstimateLines(text));
        int lineNo = 0;
        int start = 0;
        while (start < text.Length)
        {
            int nl = text[start..].IndexOf((byte)'\n');
            var line = nl < 0 ? text[start..] : text.Slice(start, nl);
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
                diagnostics.Error(new SourcePos(path, lineNo, s + gap + 2),
                    "one address or prefix per line (use '#' for comments)", e - s - gap - 1);
                continue;
            }
            var error = PrefixParser.TryParse(token, out var prefix);
            if (error != PrefixError.None)
            {
                diagnostics.Error(new SourcePos(path, lineNo, s + 1), PrefixParser.Describe(error, token, prefix), token.Length);
                continue;
            }
            prefixes.Add(prefix);
            budget.Take(new SourcePos(path, lineNo, s + 1), token.Length);
        }
        return prefixes;
    }

    private static int EstimateLines(ReadOnlySpan<byte> text) =>
        (int)Math.Min(FwLimits.MaxPrefixes + 1, text.Count((byte)'\n') + 1);
}
