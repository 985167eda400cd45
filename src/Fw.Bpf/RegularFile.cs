using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Fw.Bpf;

/// <summary>
/// Opens regular files only, to read or to write, and never blocks doing it. .NET's own open cannot tell a FIFO
/// or a device from a file before it opens it, and opening a FIFO waits for a writer; reading /dev/kmsg, or a
/// FIFO whose writer stays idle, waits forever. Nor can it refuse to follow a symbolic link when it creates.
/// </summary>
public static class RegularFile
{
    /// <summary>
    /// Opens <paramref name="path"/> (symbolic links followed) for reading, if it is a regular file. Its type is
    /// looked at before the open (statx: opening a device can act, a tape rewinds, a watchdog starts) and again on
    /// the descriptor (open(2) with O_NONBLOCK, so that even a FIFO put there meanwhile cannot block it), then
    /// O_NONBLOCK is cleared. Nothing is read.
    /// </summary>
    /// <returns>An unbuffered stream over the descriptor (O_CLOEXEC).</returns>
    /// <exception cref="NotRegularFileException">It is not a regular file.</exception>
    /// <exception cref="BpfException">It cannot be looked at or opened (errno: ENOENT, EACCES, ELOOP, ...).</exception>
    /// <exception cref="ArgumentException">An empty path, or one with a NUL character.</exception>
    public static FileStream OpenRead(string path)
    {
        var kind = FileStatus.Stat(path).Kind;
        if (kind != FileKind.Regular)
            throw new NotRegularFileException(path, kind);

        int fd = Interop.open(path, Interop.ORdOnly | Interop.ONonblock | Interop.ONoctty | Interop.OCloexec, 0);
        if (fd < 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            throw new BpfException($"open {path}", errno);
        }
        var handle = new SafeFileHandle(fd, ownsHandle: true);
        try
        {
            // What was opened, which the path may name no longer.
            kind = FileStatus.Of(handle).Kind;
            if (kind != FileKind.Regular)
                throw new NotRegularFileException(path, kind);
            int flags = Interop.fcntl(fd, Interop.FGetfl, 0);
            if (flags < 0 || Interop.fcntl(fd, Interop.FSetfl, flags & ~Interop.ONonblock) < 0)
            {
                int errno = Marshal.GetLastPInvokeError();
                throw new BpfException($"fcntl {path}", errno);
            }
            return new FileStream(handle, FileAccess.Read, bufferSize: 0);
        }
        catch
        {
            handle.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Creates <paramref name="path"/> (with <paramref name="mode"/>, less the umask) or empties it, for writing, if
    /// it is (or will be) a regular file, never through a symbolic link: a link at the last component is refused,
    /// not followed (an existing one before the open, one put there meanwhile by O_NOFOLLOW), so a name given on a
    /// command line cannot make root write over the file a link points at. The directories on the way are
    /// followed as usual. An existing FIFO or device is refused without being opened (open(2) with O_NONBLOCK,
    /// then the descriptor looked at again); the file is emptied only once the descriptor is known to be one.
    /// </summary>
    /// <returns>An unbuffered stream over the descriptor (O_CLOEXEC), at offset 0 of an empty file.</returns>
    /// <exception cref="NotRegularFileException">It is a symbolic link, a directory, a FIFO, a device or a socket.</exception>
    /// <exception cref="BpfException">It cannot be created or opened (errno: ENOENT for a missing directory, EACCES, ...).</exception>
    /// <exception cref="ArgumentException">An empty path, or one with a NUL character.</exception>
    public static FileStream Create(string path, uint mode = 0b110_000_000)
    {
        PathArgument.Check(path);
        try
        {
            var kind = FileStatus.Lstat(path).Kind;
            if (kind != FileKind.Regular)
                throw new NotRegularFileException(path, kind);
        }
        catch (BpfException e) when (e.Errno == 2)
        {
            // Not there yet: created below (O_CREAT without O_EXCL, so a racing creator's regular file is reused).
        }

        int fd = Interop.open(path, Interop.OWrOnly | Interop.OCreat | Interop.ONofollow | Interop.ONonblock | Interop.ONoctty | Interop.OCloexec, mode);
        if (fd < 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            if (errno == Interop.Eloop)
                throw new NotRegularFileException(path, FileKind.Symlink);
            throw new BpfException($"create {path}", errno);
        }
        var handle = new SafeFileHandle(fd, ownsHandle: true);
        try
        {
            var kind = FileStatus.Of(handle).Kind;
            if (kind != FileKind.Regular)
                throw new NotRegularFileException(path, kind);
            int flags = Interop.fcntl(fd, Interop.FGetfl, 0);
            if (flags < 0 || Interop.fcntl(fd, Interop.FSetfl, flags & ~Interop.ONonblock) < 0)
            {
                int errno = Marshal.GetLastPInvokeError();
                throw new BpfException($"fcntl {path}", errno);
            }
            var stream = new FileStream(handle, FileAccess.Write, bufferSize: 0);
            stream.SetLength(0);
            return stream;
        }
        catch
        {
            handle.Dispose();
            throw;
        }
    }
}
