using System.Runtime.InteropServices;

namespace Fw.Bpf;

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
