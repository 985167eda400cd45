using Fw.Bpf;

namespace Fw.Rules;

/// <summary>A prefix list as read: its prefixes, and every finding (errors and warnings) at its file:line:col.</summary>
public sealed record PrefixListResult(IReadOnlyList<IpPrefix> Prefixes, IReadOnlyList<Diagnostic> Diagnostics)
{
    public bool HasErrors => Diagnostics.Any(d => d.Severity == Severity.Error);
}

/// <summary>
/// A list of prefixes given to fw at run time (`fwctl set sync --file FILE|-`), in the format of a set file: one
/// address or prefix a line, '#' comments, blank lines ignored, host bits refused as in a set file. Read as set
/// files are (<see cref="SetFileReader"/>: the same parser, bounds and findings), from a regular file named by the
/// one who runs the command (no folder rule: no rules file chose it), or from a stream bounded in size and time.
/// </summary>
public static class PrefixList
{
    /// <summary>Largest list read: a set file's bound.</summary>
    public const long MaxBytes = SetFileReader.MaxBytes;

    /// <summary>How long a list on standard input may take to arrive.</summary>
    public static readonly TimeSpan StreamTimeout = TimeSpan.FromSeconds(60);

    /// <summary>The name findings give standard input.</summary>
    public const string StdinName = "<stdin>";

    /// <summary>The list in the regular file <paramref name="path"/> (a device or FIFO is refused unopened).</summary>
    public static PrefixListResult ReadFile(string path)
    {
        if (path.Contains('\0'))
            return Failed(path, $"cannot read '{Printable.Clean(path)}': the path contains a NUL character");
        try
        {
            using var f = RegularFile.OpenRead(path);
            byte[]? data = FileBytes.Read(f, MaxBytes, out long size);
            return data is null ? TooLarge(path, size) : Parse(path, data.AsSpan(0, (int)Math.Min(size, data.Length)));
        }
        catch (Exception e) when (FileBytes.IsReadFailure(e))
        {
            return Failed(path, $"cannot read '{Printable.Clean(path)}': {FileBytes.Reason(e)}");
        }
    }

    /// <summary>
    /// The list on <paramref name="stream"/> (standard input), named <paramref name="name"/> in findings: at most
    /// <see cref="MaxBytes"/>, all of it within <paramref name="timeout"/> (a writer that stalls is refused, and the
    /// read left to the process's end).
    /// </summary>
    public static PrefixListResult ReadStream(Stream stream, string name, TimeSpan timeout)
    {
        var buffer = new MemoryStream();
        bool tooLarge = false;
        Exception? failure = null;
        var reader = new Thread(() =>
        {
            try
            {
                var chunk = new byte[1 << 16];
                int n;
                while ((n = stream.Read(chunk, 0, chunk.Length)) > 0)
                {
                    lock (buffer)
                    {
                        buffer.Write(chunk, 0, n);
                        if (buffer.Length > MaxBytes)
                        {
                            tooLarge = true;
                            return;
                        }
                    }
                }
            }
            catch (Exception e) when (e is IOException or ObjectDisposedException or NotSupportedException or UnauthorizedAccessException)
            {
                failure = e;
            }
        }) { IsBackground = true, Name = "prefix list reader" };
        reader.Start();
        if (!reader.Join(timeout))
        {
            long got;
            lock (buffer)
                got = buffer.Length;
            return Failed(name, $"{name}: the list did not end within {timeout.TotalSeconds:N0} s ({got:N0} bytes read)");
        }
        if (failure is not null)
            return Failed(name, $"cannot read {name}: {failure.Message}");
        if (tooLarge)
            return TooLarge(name, buffer.Length);
        return Parse(name, buffer.GetBuffer().AsSpan(0, (int)buffer.Length));
    }

    /// <summary>The list in <paramref name="data"/>, named <paramref name="name"/> in findings.</summary>
    public static PrefixListResult Parse(string name, ReadOnlySpan<byte> data)
    {
        var diagnostics = new DiagnosticBag(name);
        var reader = new SetFileReader(diagnostics, new PrefixBudget(diagnostics), ".");
        List<IpPrefix>? prefixes;
        try
        {
            prefixes = reader.Parse(name, Printable.Clean(name), data, out string? failure);
            if (failure is not null)
                diagnostics.Add(new Diagnostic(Severity.Error, new SourcePos(name, 1, 1), failure, 0));
        }
        catch (StopReading)
        {
            prefixes = null;   // past FwLimits.MaxPrefixes: the finding says so
        }
        return new PrefixListResult(prefixes ?? [], diagnostics.Finish());
    }

    private static PrefixListResult TooLarge(string name, long size) =>
        Failed(name, $"'{Printable.Clean(name)}' is too large ({size:N0} bytes; at most {MaxBytes >> 20} MiB)");

    private static PrefixListResult Failed(string name, string message) =>
        new([], [new Diagnostic(Severity.Error, new SourcePos(name, 1, 1), message, 0)]);
}
