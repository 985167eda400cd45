namespace Fw.Bpf;

/// <summary>A file that was to be read as a regular file is something else (a device, a FIFO, a directory); it was not read.</summary>
public sealed class NotRegularFileException(string path, FileKind kind)
    : IOException($"{path} is {kind.Describe()}, not a regular file")
{
    public string Path { get; } = path;

    public FileKind Kind { get; } = kind;
}
