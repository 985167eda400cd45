using System.Runtime.CompilerServices;
using System.Text.Unicode;

namespace Fw.Rules;

/// <summary>Counts prefixes across sets and rules, and reports once where the count passes the bound.</summary>
internal sealed class PrefixBudget(DiagnosticBag diagnostics)
{
    public const int Max = 1_048_576; // FW_MAX_PREFIXES

    public long Count { get; private set; }

    public void Take(SourcePos pos, int length)
    {
        if (++Count == Max + 1)
            diagnostics.Error(pos, $"ruleset exceeds {Max} prefixes (sets and rules together); this is prefix {Max + 1}", length);
    }
}

/// <summary>
/// Reads a set file: one address or prefix a line, '#' starts a comment (whole line or trailing), blank
/// lines ignored. Works on the raw bytes with the span parser: a million lines take ~0.13 s (warm; bench/controlplane).
/// The line loop and the parser are [AggressiveOptimization]: each runs once per load, so tiered compilation
/// would run them unoptimized (a cold read of a million lines ~25% less CPU, bench/Fw.Bench.ControlPlane profile).
/// </summary>
internal static class SetFileReader
{
    /// <summary>Largest set file read (a million IPv6 prefixes with comments fit many times over).</summary>
    public const long MaxBytes = 256L << 20;

    /// <param name="path">The file as diagnostics name it (relative to the rules file's folder, as resolved).</param>
    /// <param name="filePos">Where the file: value stands in the rules file; file-level errors go there.</param>
    /// <returns>The prefixes, or null when the file could not be read at all.</returns>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    public static List<IpPrefix>? Read(string path, SourcePos filePos, int fileLength, DiagnosticBag diagnostics, PrefixBudget budget)
    {
        byte[] data;
        try
        {
            if (Directory.Exists(path))
            {
                diagnostics.Error(filePos, $"cannot read set file '{path}': it is a directory", fileLength);
                return null;
            }
            data = FileBytes.Read(path, MaxBytes, out long size) ?? [];
            if (size > MaxBytes)
            {
                diagnostics.Error(filePos, $"set file '{path}' is too large ({size:N0} bytes; at most {MaxBytes >> 20} MiB)", fileLength);
                return null;
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or NotSupportedException or ArgumentException)
        {
            diagnostics.Error(filePos, $"cannot read set file '{path}': {FileBytes.Reason(e)}", fileLength);
            return null;
        }

        ReadOnlySpan<byte> text = data;
        if (text.StartsWith((ReadOnlySpan<byte>)[0xEF, 0xBB, 0xBF]))
            text = text[3..];
        int nul = text.IndexOf((byte)0);
        if (nul >= 0)
        {
            var (l, c) = FileBytes.LineColumn(text, nul);
            diagnostics.Error(filePos, $"set file '{path}' is binary, not text (NUL byte at line {l}, column {c})", fileLength);
            return null;
        }
        if (!Utf8.IsValid(text))
        {
            int bad = FileBytes.FirstInvalidUtf8(text);
            var (l, c) = FileBytes.LineColumn(text, bad);
            diagnostics.Error(filePos, $"set file '{path}' is not UTF-8 text (invalid byte 0x{text[bad]:X2} at line {l}, column {c})", fileLength);
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
        (int)Math.Min(PrefixBudget.Max + 1, text.Count((byte)'\n') + 1);
}

/// <summary>Bounded file reads and the wording of their failures, shared by the rules and set files.</summary>
internal static class FileBytes
{
    /// <summary>
    /// The file's bytes, or null (with <paramref name="size"/> above <paramref name="max"/>) when it is larger;
    /// never reads more than max + 1 bytes, even from a file that grows or reports no size (a pipe).
    /// </summary>
    public static byte[]? Read(string path, long max, out long size)
    {
        using var f = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite, 1, FileOptions.SequentialScan);
        size = f.CanSeek ? f.Length : 0;
        if (size > max)
            return null;
        var buffer = new MemoryStream(f.CanSeek ? (int)size : 1 << 16);
        var chunk = new byte[1 << 20];
        int n;
        while ((n = f.Read(chunk, 0, chunk.Length)) > 0)
        {
            buffer.Write(chunk, 0, n);
            if (buffer.Length > max)
            {
                size = buffer.Length;
                return null;
            }
        }
        size = buffer.Length;
        return buffer.Length == buffer.Capacity ? buffer.GetBuffer() : buffer.ToArray();
    }

    public static string Reason(Exception e) => e switch
    {
        FileNotFoundException or DirectoryNotFoundException => "no such file",
        UnauthorizedAccessException => "permission denied",
        _ => e.Message,
    };

    /// <summary>1-based line and column (in characters) of byte <paramref name="index"/>.</summary>
    public static (int Line, int Column) LineColumn(ReadOnlySpan<byte> text, int index)
    {
        var before = text[..index];
        int line = before.Count((byte)'\n') + 1;
        int lineStart = before.LastIndexOf((byte)'\n') + 1;
        var head = text[lineStart..index];
        int column = Utf8.IsValid(head) ? System.Text.Encoding.UTF8.GetCharCount(head) + 1 : head.Length + 1;
        return (line, column);
    }

    public static int FirstInvalidUtf8(ReadOnlySpan<byte> text)
    {
        var chars = new char[1 << 16];
        int at = 0;
        while (at < text.Length)
        {
            var status = Utf8.ToUtf16(text[at..], chars, out int read, out _, replaceInvalidSequences: false);
            at += read;
            if (status != System.Buffers.OperationStatus.DestinationTooSmall)
                return status == System.Buffers.OperationStatus.Done ? text.Length : at;
        }
        return text.Length;
    }
}
