using Fw.Bpf;
using System.Text.Unicode;

namespace Fw.Rules;

/// <summary>Bounded file reads and the wording of their failures, shared by the rules and set files.</summary>
internal static class FileBytes
{
    /// <summary>
    /// The bytes of the regular file <paramref name="path"/> (see <see cref="Read(FileStream, long, out long)"/>).
    /// Anything else (a device, a FIFO, a directory, a socket) is refused before it is opened or read
    /// (<see cref="RegularFile.OpenRead"/>): reading /dev/kmsg, or a FIFO whose writer stays idle, never ends.
    /// </summary>
    public static byte[]? Read(string path, long max, out long size)
    {
        using var f = RegularFile.OpenRead(path);
        return Read(f, max, out size);
    }

    /// <summary>
    /// The file's bytes, or null (with <paramref name="size"/> above <paramref name="max"/>) when it is larger;
    /// never reads more than max + 1 bytes, even from a file that grows while it is read. Reading stops after
    /// the chunk that holds the first NUL byte: the caller refuses the text there, and a binary file must not be
    /// read up to the bound for that.
    /// </summary>
    public static byte[]? Read(FileStream f, long max, out long size)
    {
        size = f.CanSeek ? f.Length : 0;
        if (size > max)
            return null;
        var buffer = new MemoryStream(f.CanSeek ? (int)size : 1 << 16);
        var chunk = new byte[(int)Math.Min(1 << 20, Math.Max(size + 1, 1 << 12))];
        int n;
        while ((n = f.Read(chunk, 0, chunk.Length)) > 0)
        {
            buffer.Write(chunk, 0, n);
            if (buffer.Length > max)
            {
                size = buffer.Length;
                return null;
            }
            if (chunk.AsSpan(0, n).Contains((byte)0))
                break;
        }
        size = buffer.Length;
        return buffer.Length == buffer.Capacity ? buffer.GetBuffer() : buffer.ToArray();
    }

    /// <summary>Why a file could not be read, as the tail of "cannot read ...: ".</summary>
    public static string Reason(Exception e) => e switch
    {
        NotRegularFileException n => $"it is {n.Kind.Describe()}, not a regular file",
        BpfException { Errno: Enoent } => "no such file",
        BpfException { Errno: Eacces } => "permission denied",
        BpfException b => Lower(BpfException.StrError(b.Errno)),
        FileNotFoundException or DirectoryNotFoundException => "no such file",
        UnauthorizedAccessException => "permission denied",
        ArgumentException when e.Message.Contains("NUL", StringComparison.Ordinal) => "the path contains a NUL character",
        ArgumentException => "not a valid path",
        _ => e.Message,
    };

    /// <summary>The exceptions a file read turns into a finding (anything else is a bug, reported as such).</summary>
    public static bool IsReadFailure(Exception e) =>
        e is IOException or BpfException or UnauthorizedAccessException or NotSupportedException or ArgumentException;

    private const int Enoent = 2, Eacces = 13;

    private static string Lower(string s) =>
        s.Length > 1 && char.IsUpper(s[0]) && char.IsLower(s[1]) ? char.ToLowerInvariant(s[0]) + s[1..] : s;

    /// <summary>
    /// 1-based line and column (in characters) of byte <paramref name="index"/>. With
    /// <paramref name="lineEndsAsYaml"/>, a lone CR ends a line too, as the YAML parser counts them.
    /// </summary>
    public static (int Line, int Column) LineColumn(ReadOnlySpan<byte> text, int index, bool lineEndsAsYaml = false)
    {
        var before = text[..index];
        int line = 1, lineStart = 0;
        for (int i = 0; i < before.Length; i++)
        {
            byte b = before[i];
            if (b == '\n' || (lineEndsAsYaml && b == '\r' && (i + 1 >= text.Length || text[i + 1] != '\n')))
            {
                line++;
                lineStart = i + 1;
            }
        }
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
