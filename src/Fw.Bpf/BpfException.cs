using System.Runtime.InteropServices;

namespace Fw.Bpf;

/// <summary>
/// A failed kernel or libbpf operation: what we were doing, the errno and its text, and libbpf's
/// own log when it had something to say (the verifier's complaint, for instance).
/// </summary>
public sealed class BpfException : Exception
{
    public BpfException(string operation, int errno, string? detail = null)
        : base(Format(operation, errno, detail))
    {
        Operation = operation;
        Errno = errno;
    }

    public string Operation { get; }
    public int Errno { get; }

    public static unsafe string StrError(int errno) =>
        Marshal.PtrToStringUTF8((nint)Interop.strerror(errno)) ?? $"errno {errno}";

    private static string Format(string operation, int errno, string? detail) =>
        errno == 0 ? $"{operation}{(detail is null ? "" : ": " + detail)}"
        : $"{operation}: {StrError(errno)}{(detail is null ? "" : Environment.NewLine + detail)}";

    /// <summary>libbpf int results are -errno on failure.</summary>
    internal static int Check(int rc, string operation)
    {
        if (rc < 0)
            throw new BpfException(operation, -rc, LibbpfLog.TakeRecent());
        return rc;
    }

    /// <summary>For calls that return an fd or -1 with errno (the bpf() syscall wrappers).</summary>
    internal static int CheckFd(int fd, string operation)
    {
        if (fd < 0)
        {
            int errno = Marshal.GetLastPInvokeError();
            throw new BpfException(operation, errno != 0 ? errno : -fd, LibbpfLog.TakeRecent());
        }
        return fd;
    }

    internal static nint CheckPtr(nint ptr, string operation)
    {
        if (ptr == 0)
            throw new BpfException(operation, Marshal.GetLastPInvokeError(), LibbpfLog.TakeRecent());
        return ptr;
    }
}

