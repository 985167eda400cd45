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

/// <summary>
/// libbpf's messages, kept per thread instead of printed: attached to the exception of a failing
/// call (the verifier log explains a refused program), otherwise dropped.
/// </summary>
internal static unsafe class LibbpfLog
{
    private const int KeepChars = 16 * 1024;

    [ThreadStatic]
    private static System.Text.StringBuilder? s_recent;

    [ThreadStatic]
    private static byte* s_buffer;

    private static int s_installed;

    public static void Install()
    {
        if (Interlocked.Exchange(ref s_installed, 1) == 0)
            Interop.libbpf_set_print(&Print);
    }

    public static void Clear() => s_recent?.Clear();

    public static string? TakeRecent()
    {
        var sb = s_recent;
        if (sb is null || sb.Length == 0)
            return null;
        string text = sb.ToString().TrimEnd();
        sb.Clear();
        return text;
    }

    [UnmanagedCallersOnly]
    private static int Print(int level, byte* fmt, nint args)
    {
        const int Debug = 2;
        if (level >= Debug)
            return 0;
        const int Size = 256 * 1024;    // the verifier's log comes in one call
        if (s_buffer == null)
            s_buffer = (byte*)NativeMemory.Alloc(Size);
        int n = Interop.vsnprintf(s_buffer, Size, fmt, args);
        if (n <= 0)
            return 0;
        var sb = s_recent ??= new System.Text.StringBuilder();
        sb.Append(Marshal.PtrToStringUTF8((nint)s_buffer, Math.Min(n, Size - 1)));
        if (sb.Length > KeepChars)
            sb.Remove(0, sb.Length - KeepChars);
        return 0;
    }
}
