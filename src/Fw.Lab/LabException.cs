namespace Fw.Lab;

/// <summary>
/// A lab operation that failed: what we were doing, and the errno and its text (native calls) or the
/// command's own message (ip, nsenter).
/// </summary>
public sealed class LabException : Exception
{
    public LabException(string operation, int errno = 0, string? detail = null)
        : base(Format(operation, errno, detail))
    {
        Operation = operation;
        Errno = errno;
    }

    public string Operation { get; }
    public int Errno { get; }

    /// <summary>Throws for a libc result of -1, with errno.</summary>
    internal static int Check(int rc, string operation) =>
        rc >= 0 ? rc : throw new LabException(operation, System.Runtime.InteropServices.Marshal.GetLastPInvokeError());

    private static string Format(string operation, int errno, string? detail)
    {
        string text = errno == 0 ? operation : $"{operation}: {Interop.StrError(errno)}";
        return detail is null or "" ? text : $"{text}: {detail}";
    }
}
