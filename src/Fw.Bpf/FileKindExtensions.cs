namespace Fw.Bpf;

public static class FileKindExtensions
{
    /// <summary>The kind as a sentence says it: "a character device", "a named pipe (FIFO)".</summary>
    public static string Describe(this FileKind kind) => kind switch
    {
        FileKind.Regular => "a regular file",
        FileKind.Directory => "a directory",
        FileKind.Symlink => "a symbolic link",
        FileKind.CharDevice => "a character device",
        FileKind.BlockDevice => "a block device",
        FileKind.Fifo => "a named pipe (FIFO)",
        FileKind.Socket => "a socket",
        _ => "a file of unknown type",
    };
}
