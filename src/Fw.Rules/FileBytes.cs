using System.Runtime.ExceptionServices;
using System.Text.Unicode;

namespace Fw.Rules;

/// <summary>Bounded file reads and the wording of their failures, shared by the rules and set files.</summary>
internal static class FileBytes
{
    /// <summary>
    /// How long opening a file may take. Opening a named pipe (FIFO) blocks until a writer opens it, and
    /// .NET has no non-blocking open: past this, the file is refused as unreadable.
    /// </summary>
    public static readonly TimeSpan OpenTimeout = TimeSpan.FromSeconds(2);

    /// <summary>
    /// The file's bytes, or null (with <paramref name="size"/> above <paramref name="max"/>) when it is larger;
    /// never reads more than max + 1 bytes, even from a file that grows or reports no size (a pipe). Reading
    /// stops after the chunk that holds the first NUL byte: the caller refuses the text there, and a binary
    /// file (or /dev/zero) must not be read up to the bound for that.
    /// </summary>
    public static byte[]? Read(string path, long max, out long size)
    {
        using var f = Open(path);
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
            if (chunk.AsSpan(0, n).Contains((byte)0))
                break;
        }
        size = buffer.Length;
        return buffer.Length == buffer.Capacity ? buffer.GetBuffer() : buffer.ToArray();
    }

    /// <summary>
    /// Opens a file for reading within <see cref="OpenTimeout"/>; throws IOException past it. The open runs on
    /// its own thread so a FIFO without a writer cannot block the caller; that thread is then released by
    /// opening the FIFO read-write once (which never blocks on Linux and gives the blocked open its writer).
    /// </summary>
    public static FileStream Open(string path)
    {
        FileStream? stream = null;
        ExceptionDispatchInfo? failure = null;
        using var started = new ManualResetEventSlim();
        var opener = new Thread(() =>
        {
            started.Set();
            try
            {
                stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite, 1, FileOptions.SequentialScan);
            }
            catch (Exception e)
            {
                failure = ExceptionDispatchInfo.Capture(e);
            }
        })
        {
            IsBackground = true,
            Name = "fw open",
        };
        opener.Start();
        started.Wait();   // the bound is on the open, not on a busy machine starting the thread
        if (!opener.Join(OpenTimeout))
        {
            Release(path, opener, () => stream);
            throw new IOException($"opening it did not finish within {OpenTimeout.TotalSeconds:0} s (a named pipe with no writer?)");
        }
        failure?.Throw();
        return stream!;
    }

    /// <summary>Unblocks and ends an open that timed out, in the background; the caller has moved on.</summary>
    private static void Release(string path, Thread opener, Func<FileStream?> opened)
    {
        var releaser = new Thread(() =>
        {
            // Nothing may escape: an exception on this thread would end the process.
            try
            {
                using (new FileStream(path, FileMode.Open, FileAccess.ReadWrite, FileShare.ReadWrite, 1))
                {
                }
                opener.Join();
                opened()?.Dispose();
            }
            catch (Exception)
            {
                // Not ours to open for writing: the opener waits on for a writer (a background thread: it never
                // keeps the process alive).
            }
        })
        {
            IsBackground = true,
            Name = "fw open release",
        };
        releaser.Start();
    }

    public static string Reason(Exception e) => e switch
    {
        FileNotFoundException or DirectoryNotFoundException => "no such file",
        UnauthorizedAccessException => "permission denied",
        _ => e.Message,
    };

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
