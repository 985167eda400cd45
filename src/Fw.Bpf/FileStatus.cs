using System.Runtime.InteropServices;

namespace Fw.Bpf;

/// <summary>
/// What statx(2) says of a file: its kind, permission bits, owner, size and identity. Reading it opens nothing:
/// a FIFO, a device or a file being written is described without being touched.
/// </summary>
/// <param name="Mode">The permission bits (07777: rwx for user, group, other, and setuid, setgid, sticky).</param>
/// <param name="Size">Bytes (a symbolic link: the length of its target).</param>
/// <param name="Device">The file system's device as major &lt;&lt; 32 | minor; with <paramref name="Inode"/>, the file's identity.</param>
public readonly record struct FileStatus(FileKind Kind, uint Mode, uint Uid, uint Gid, long Size, ulong Device, ulong Inode)
{
    /// <summary>The file <paramref name="path"/> names, a symbolic link itself rather than its target (lstat).</summary>
    /// <exception cref="BpfException">statx failed (errno: ENOENT, EACCES, ENOTDIR, ...).</exception>
    public static FileStatus Lstat(string path) => OfPath(path, Interop.AtSymlinkNofollow | Interop.AtNoAutomount);

    /// <summary>The file <paramref name="path"/> names, symbolic links followed (stat).</summary>
    /// <exception cref="BpfException">statx failed (errno: ENOENT, ELOOP, ...).</exception>
    public static FileStatus Stat(string path) => OfPath(path, 0);

    /// <summary>The file an open descriptor refers to (fstat).</summary>
    public static FileStatus Of(SafeHandle descriptor)
    {
        ArgumentNullException.ThrowIfNull(descriptor);
        bool added = false;
        try
        {
            descriptor.DangerousAddRef(ref added);
            int fd = (int)descriptor.DangerousGetHandle();
            if (Interop.statx(fd, "", Interop.AtEmptyPath, Interop.StatxBasicStats, out var buf) != 0)
                throw new BpfException($"statx fd {fd}", Marshal.GetLastPInvokeError());
            return From(in buf);
        }
        finally
        {
            if (added)
                descriptor.DangerousRelease();
        }
    }

    private static FileStatus OfPath(string path, int flags)
    {
        PathArgument.Check(path);
        if (Interop.statx(Interop.AtFdcwd, path, flags, Interop.StatxBasicStats, out var buf) != 0)
            throw new BpfException($"statx {path}", Marshal.GetLastPInvokeError());
        return From(in buf);
    }

    private static FileStatus From(in Interop.Statx s) => new(
        KindOf(s.Mode), (uint)s.Mode & 0xFFF, s.Uid, s.Gid, (long)s.Size, (ulong)s.DevMajor << 32 | s.DevMinor, s.Ino);

    private static FileKind KindOf(ushort mode) => (mode & Interop.SIfmt) switch
    {
        Interop.SIfreg => FileKind.Regular,
        Interop.SIfdir => FileKind.Directory,
        Interop.SIflnk => FileKind.Symlink,
        Interop.SIfchr => FileKind.CharDevice,
        Interop.SIfblk => FileKind.BlockDevice,
        Interop.SIfifo => FileKind.Fifo,
        Interop.SIfsock => FileKind.Socket,
        _ => FileKind.Unknown,
    };
}
