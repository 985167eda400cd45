using Fw.Bpf;

namespace Fw.Rules;

/// <summary>
/// Where set files may be read from: the rules file's folder and below, as the kernel resolves paths (every
/// symbolic link and ".." resolved, the folder itself too: /etc/fw may be a link to /srv/fw). A path that leaves it
/// by name (../, an absolute path elsewhere) is refused before anything is looked up; one that leaves it through a
/// symbolic link is refused once resolved, before it is opened; and the opened file is checked again, so a link
/// swapped in meanwhile is refused too. Nothing outside is ever opened or read.
/// </summary>
internal sealed class SetFileTree(string baseDirectory)
{
    private const string Rule = "set files must be in that folder or below it";

    private readonly string folder = baseDirectory.Length == 0 ? "." : baseDirectory;
    private string? root;

    /// <summary>
    /// Opens <paramref name="path"/> (the rules file's folder joined with the file: value) if it is a regular file
    /// in the tree; else null and <paramref name="failure"/>. Throws as <see cref="RegularFile.OpenRead"/> and
    /// <see cref="RealPath.Of(string)"/> do (a missing file, a device, a FIFO): the caller words those.
    /// </summary>
    public FileStream? OpenRead(string path, out string? failure)
    {
        failure = null;
        string shown = Show(path);
        if (path.Contains('\0'))
        {
            // A NUL ends a path for the kernel: "feeds/a\0../../x" must not be read as "feeds/a".
            failure = $"cannot read set file '{shown}': the path contains a NUL character";
            return null;
        }
        try
        {
            root ??= RealPath.Of(folder);
        }
        catch (Exception e) when (FileBytes.IsReadFailure(e))
        {
            failure = $"cannot read set file '{shown}': the rules file's folder '{Show(folder)}': {FileBytes.Reason(e)}";
            return null;
        }

        string byName = Path.GetFullPath(path);
        if (!Inside(byName, Path.GetFullPath(folder)) && !Inside(byName, root))
        {
            failure = $"set file '{shown}' is outside the rules file's folder {Show(root)}: {Rule}";
            return null;
        }
        string real = RealPath.Of(path);
        if (!Inside(real, root))
        {
            failure = $"set file '{shown}' resolves to {Show(real)}, outside the rules file's folder {Show(root)}: {Rule}";
            return null;
        }
        var stream = RegularFile.OpenRead(real);
        string opened = RealPath.Of(stream.SafeFileHandle);
        if (!Inside(opened, root))
        {
            stream.Dispose();
            failure = $"set file '{shown}' was replaced while it was opened and now resolves outside the rules file's folder {Show(root)}: {Rule}";
            return null;
        }
        return stream;
    }

    /// <summary>Whether <paramref name="path"/> is <paramref name="folder"/> or below it (both absolute and normalized).</summary>
    public static bool Inside(string path, string folder) =>
        folder == "/" || path == folder
        || (path.Length > folder.Length && path.StartsWith(folder, StringComparison.Ordinal) && path[folder.Length] == '/');

    /// <summary>A path as messages quote it: a long one cut in the middle (a 10 MB file: value makes no 10 MB message).</summary>
    public static string Show(string path) =>
        path.Length <= 200 ? path : string.Concat(path.AsSpan(0, 100), "...", path.AsSpan(path.Length - 97));
}
