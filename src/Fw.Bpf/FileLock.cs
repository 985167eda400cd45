using System.Runtime.InteropServices;

namespace Fw.Bpf;

/// <summary>
/// An exclusive flock(2) on a file, released on dispose or when the process dies.
/// </summary>
/// <remarks>
/// The file is opened with open(2), not a FileStream: .NET takes its own shared flock on every file it opens
/// for writing and throws "being used by another process" when that fails, so a second writer would be
/// refused at once instead of waiting here for the first to finish.
/// </remarks>
public sealed class FileLock : IDisposable
{
    private readonly FdHandle _file;

    /// <summary>O_NOFOLLOW: 0400000 on x86-64 (and asm-generic), 0100000 on arm64.</summary>
    private static readonly int ONoFollow =
        System.Runtime.InteropServices.RuntimeInformation.ProcessArchitecture == System.Runtime.InteropServices.Architecture.Arm64 ? 0x8000 : 0x20000;

    private FileLock(FdHandle file) => _file = file;

    /// <summary>Opens (creating, mode 0600, never through a symlink) and locks <paramref name="path"/>, waiting up to <paramref name="timeout"/>.</summary>
    /// <param name="what">What the lock protects, for the error ("lock fw0").</param>
    /// <param name="busy">Who holds it when it is taken, for the error.</param>
    public static FileLock Acquire(string path, TimeSpan timeout, string what, string busy = "held by another process")
    {
        // O_NOFOLLOW: a symlink planted at the lock's path is refused (ELOOP), never followed to another file.
        int fd = Interop.open(path, Interop.ORdWr | Interop.OCreat | Interop.OCloexec | ONoFollow, 0x180 /* 0600 */);
        if (fd < 0)
            throw new BpfException($"{what}: open {path}", Marshal.GetLastPInvokeError());
        var file = new FdHandle(fd);
        var deadline = DateTime.UtcNow + timeout;
        while (Interop.flock(fd, Interop.LockEx | Interop.LockNb) != 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            if (errno != Interop.Eagain || DateTime.UtcNow > deadline)
            {
                file.Dispose();
                throw new BpfException($"{what} ({busy})", errno);
            }
            Thread.Sleep(20);
        }
        return new FileLock(file);
    }

    public void Dispose() => _file.Dispose();   // closing the fd releases the flock
}
