using System.Runtime.InteropServices;

namespace Fw.Bpf;

/// <summary>Absolute paths with every symbolic link, "." and ".." resolved, as the kernel resolves them.</summary>
public static class RealPath
{
    /// <summary>realpath(3) of <paramref name="path"/>, which must exist (relative paths from the working folder).</summary>
    /// <exception cref="BpfException">A component is missing, unreadable, not a folder, or links loop (errno).</exception>
    /// <exception cref="ArgumentException">An empty path, or one with a NUL character.</exception>
    public static unsafe string Of(string path)
    {
        PathArgument.Check(path);
        byte* resolved = Interop.realpath(path, null);
        if (resolved == null)
        {
            int errno = Marshal.GetLastPInvokeError();
            throw new BpfException($"resolve {path}", errno);
        }
        try
        {
            return Marshal.PtrToStringUTF8((nint)resolved)!;
        }
        finally
        {
            Interop.free(resolved);
        }
    }

    /// <summary>
    /// Where the file an open descriptor refers to is now (the kernel's /proc/self/fd link): after the file is open,
    /// the path it was opened by may have changed, this may not.
    /// </summary>
    /// <exception cref="IOException">The link cannot be read.</exception>
    public static string Of(SafeHandle descriptor)
    {
        ArgumentNullException.ThrowIfNull(descriptor);
        bool added = false;
        try
        {
            descriptor.DangerousAddRef(ref added);
            string link = $"/proc/self/fd/{(int)descriptor.DangerousGetHandle()}";
            return new FileInfo(link).LinkTarget ?? throw new IOException($"{link} is not a link");
        }
        finally
        {
            if (added)
                descriptor.DangerousRelease();
        }
    }
}
