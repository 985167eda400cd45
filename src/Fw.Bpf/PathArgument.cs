namespace Fw.Bpf;

/// <summary>Paths handed to libc: a NUL would silently cut the path short there, so it is refused before the call.</summary>
internal static class PathArgument
{
    public static void Check(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (path.Length == 0)
            throw new ArgumentException("empty path", nameof(path));
        if (path.Contains('\0'))
            throw new ArgumentException("the path contains a NUL character", nameof(path));
    }
}
