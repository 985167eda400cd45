using System.Runtime.InteropServices;
using Microsoft.Win32.SafeHandles;

namespace Fw.Bpf;

/// <summary>
/// Opens regular files only, and never blocks doing it. .NET's own open cannot tell a FIFO or a device from a
/// file before it opens it, and opening a FIFO waits for a writer; reading /dev/kmsg, or a FIFO whose writer
/// stays idle, waits forever.
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
}
