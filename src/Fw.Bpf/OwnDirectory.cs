namespace Fw.Bpf;

/// <summary>
/// Directories a root process keeps its state in (bpffs pins, lock files) where other users may also create
/// entries (/sys/fs/bpf is mode 1777 on many hosts): created mode 0700, and used only when they are a real
/// directory (not a symlink), owned by root, and writable by no one else. Entries are removed without ever
/// following a symlink: a planted link is unlinked, its target untouched.
/// </summary>
public static class OwnDirectory
{
    private const UnixFileMode OwnerOnly = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;
    private const uint OthersWrite = 0x12;   // 0022: group or others may write

    /// <summary>Creates <paramref name="path"/> (mode 0700) unless it exists, then checks it (see <see cref="Check"/>).</summary>
    public static void Ensure(string path)
    {
        if (!Exists(path))
        {
            try
            {
                Directory.CreateDirectory(path, OwnerOnly);
            }
            catch (IOException) when (Exists(path))
            {
                // Made meanwhile (another fw process, or someone else: checked below).
            }
        }
        Check(path);
    }

    /// <summary>Throws unless <paramref name="path"/> is a directory, not a symlink, owned by root and writable by root only.</summary>
    public static void Check(string path)
    {
        var st = FileStatus.Lstat(path);
        string? problem = st.Kind switch
        {
            FileKind.Symlink => "is a symbolic link",
            not FileKind.Directory => $"is {st.Kind.Describe()}, not a directory",
            _ when st.Uid != 0 => $"is owned by uid {st.Uid}, not root",
            _ when (st.Mode & OthersWrite) != 0 => $"is writable by group or others (mode {Convert.ToString(st.Mode, 8)})",
            _ => null,
        };
        if (problem is not null)
            throw new BpfException($"{path} {problem}; fw refuses to use it (remove it, and fw makes its own)", 1 /* EPERM */);
    }

    /// <summary>Whether something (a symlink included, dangling or not) is at <paramref name="path"/>.</summary>
    public static bool Exists(string path) => new FileInfo(path) is var f && (f.Exists || Directory.Exists(path) || f.LinkTarget is not null);

    /// <summary>
    /// Removes <paramref name="path"/> and everything below it without following symlinks: a link is unlinked,
    /// never entered. Nothing there: nothing to do.
    /// </summary>
    public static void RemoveTree(string path)
    {
        var top = new DirectoryInfo(path);
        if (top.LinkTarget is not null)
        {
            File.Delete(path);   // unlink(2) on the link itself
            return;
        }
        if (!top.Exists)
        {
            if (File.Exists(path))
                File.Delete(path);
            return;
        }
        foreach (var entry in top.EnumerateFileSystemInfos())
        {
            if (entry.LinkTarget is null && entry is DirectoryInfo)
                RemoveTree(entry.FullName);
            else
                File.Delete(entry.FullName);
        }
        top.Delete();
    }
}
