using System.Diagnostics;
using Fw.Bpf;
using Fw.Cli;
using Fw.Kernel;

namespace Fw.Tests.Kernel;

/// <summary>
/// Finding 2 of the hardening review: pins through a planted symlink. /sys/fs/bpf is often mode 1777, so anyone may
/// make /sys/fs/bpf/fw (or an entry in /run) first; root's attach then removed "leftovers of a crashed attach"
/// through a link. fw's directories are its own (0700, root, not a link) or refused, removal never follows a link,
/// and lock files are never opened through one.
/// </summary>
public sealed class PinSafetyTests : IDisposable
{
    private readonly string _tmp = Directory.CreateTempSubdirectory("fw-pins-").FullName;

    public void Dispose() => Directory.Delete(_tmp, recursive: true);

    private string Victim()
    {
        string victim = Path.Combine(_tmp, "victim");
        Directory.CreateDirectory(victim);
        File.WriteAllText(Path.Combine(victim, "precious"), "keep me");
        return victim;
    }

    private static void Run(string file, params string[] args)
    {
        using var p = Process.Start(new ProcessStartInfo(file, args) { RedirectStandardError = true })!;
        string err = p.StandardError.ReadToEnd();
        p.WaitForExit();
        Assert.True(p.ExitCode == 0, $"{file} {string.Join(' ', args)}: {err}");
    }

    [Fact]
    public void RemoveTreeUnlinksLinksAndNeverEntersThem()
    {
        string victim = Victim();
        string tree = Path.Combine(_tmp, "tree");
        Directory.CreateDirectory(Path.Combine(tree, "sub"));
        File.CreateSymbolicLink(Path.Combine(tree, "to-dir"), victim);
        File.CreateSymbolicLink(Path.Combine(tree, "sub", "to-file"), Path.Combine(victim, "precious"));
        File.WriteAllText(Path.Combine(tree, "sub", "own"), "x");
        PinLayout.RemoveTree(tree);
        Assert.False(OwnDirectory.Exists(tree));
        Assert.Equal("keep me", File.ReadAllText(Path.Combine(victim, "precious")));

        // The top itself a link: the link goes, not what it points to.
        string top = Path.Combine(_tmp, "top");
        File.CreateSymbolicLink(top, victim);
        PinLayout.RemoveTree(top);
        Assert.False(OwnDirectory.Exists(top));
        Assert.Equal("keep me", File.ReadAllText(Path.Combine(victim, "precious")));
    }

    [Fact]
    public void OwnDirectoryIsRootsOrRefused()
    {
        string made = Path.Combine(_tmp, "made");
        OwnDirectory.Ensure(made);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(made));

        string link = Path.Combine(_tmp, "link");
        File.CreateSymbolicLink(link, Victim());
        Assert.Contains("symbolic link", Assert.Throws<BpfException>(() => OwnDirectory.Ensure(link)).Message);

        string file = Path.Combine(_tmp, "file");
        File.WriteAllText(file, "");
        Assert.Contains("not a directory", Assert.Throws<BpfException>(() => OwnDirectory.Check(file)).Message);

        string theirs = Path.Combine(_tmp, "theirs");
        Directory.CreateDirectory(theirs);
        Run("chown", "65534", theirs);
        Assert.Contains("owned by uid 65534", Assert.Throws<BpfException>(() => OwnDirectory.Ensure(theirs)).Message);

        string open = Path.Combine(_tmp, "open");
        Directory.CreateDirectory(open);
        File.SetUnixFileMode(open, (UnixFileMode)0x1ff);   // 0777
        Assert.Contains("writable by group or others", Assert.Throws<BpfException>(() => OwnDirectory.Check(open)).Message);
    }

    [Fact]
    public void APlantedInterfaceLinkIsUnlinkedNotFollowed()
    {
        using var veth = new TestVeth();
        string victim = Victim();
        PinLayout.EnsureRoot();
        File.CreateSymbolicLink(PinLayout.Dir(veth.Name), victim);
        string rules = Path.Combine(_tmp, "rules.yaml");
        File.WriteAllText(rules, "rules:\n  - name: a\n    action: pass\n");
        var (o, e) = (new StringWriter(), new StringWriter());
        Assert.True(FwctlApp.Run(["attach", veth.Name, "--rules", rules], o, e) == 0, e.ToString());
        Assert.Equal("keep me", File.ReadAllText(Path.Combine(victim, "precious")));
        Assert.Single(Directory.GetFileSystemEntries(victim));
        Assert.Null(new DirectoryInfo(PinLayout.Dir(veth.Name)).LinkTarget);   // fw's own directory now
        Assert.True(Firewall.IsAttached(veth.Name));
    }

    [Fact]
    public void ALockFileLinkIsRefusedAndItsTargetNotMade()
    {
        using var veth = new TestVeth();
        OwnDirectory.Ensure(PinLayout.LockDir);
        string lockPath = InterfaceLock.PathOf(veth.Name);
        string target = Path.Combine(_tmp, "made-by-root");
        File.CreateSymbolicLink(lockPath, target);
        try
        {
            var e = Assert.Throws<BpfException>(() => InterfaceLock.Acquire(veth.Name, TimeSpan.FromSeconds(1)));
            Assert.Equal(40 /* ELOOP */, e.Errno);
            Assert.False(File.Exists(target));
        }
        finally
        {
            File.Delete(lockPath);
        }
    }

    [Fact]
    public void FwsDirectoriesAreRootsOwn()
    {
        PinLayout.EnsureRoot();
        foreach (string dir in new[] { PinLayout.Root, PinLayout.LockDir })
        {
            OwnDirectory.Ensure(dir);
            var st = FileStatus.Lstat(dir);
            Assert.Equal((FileKind.Directory, 0u), (st.Kind, st.Uid));
            Assert.Equal(0u, st.Mode & 0x12);
        }
    }
}
