using System.Diagnostics;
using Fw.Bpf;
using Xunit;
using static Fw.Tests.Rules.RulesTestKit;

namespace Fw.Tests.Rules;

/// <summary>
/// Fw.Bpf's file primitives the rules reader stands on: <see cref="RegularFile.OpenRead"/> (a regular file or a
/// fast error, never a blocking open or read), <see cref="FileStatus"/> (statx) and <see cref="RealPath"/>.
/// </summary>
public class RegularFileTests
{
    private static T Fast<T>(Func<T> body)
    {
        var watch = Stopwatch.StartNew();
        var run = Task.Factory.StartNew(body, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        Assert.True(run.Wait(TimeSpan.FromSeconds(10)), "no answer within 10 s: a hang");
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(1), $"took {watch.Elapsed.TotalMilliseconds:0} ms");
        return run.Result;
    }

    private static NotRegularFileException Refused(string path) =>
        Fast(() => Assert.Throws<NotRegularFileException>(() => RegularFile.OpenRead(path)));

    [Fact]
    public void OpensARegularFileForReading()
    {
        using var dir = new TempDir();
        string f = dir.Write("a.txt", "hello\n");
        using var s = RegularFile.OpenRead(f);
        Assert.True(s.CanRead);
        Assert.False(s.CanWrite);
        Assert.True(s.CanSeek);
        Assert.Equal(6, s.Length);
        Assert.Equal("hello\n", new StreamReader(s).ReadToEnd());
    }

    [Fact]
    public void TheDescriptorIsBlockingAndClosedOnExec()
    {
        using var dir = new TempDir();
        string f = dir.Write("a.txt", "x");
        using var s = RegularFile.OpenRead(f);
        // /proc/self/fdinfo/N: "flags: 0NNNNNN" in octal; O_NONBLOCK 04000 cleared, O_CLOEXEC 02000000 set.
        string info = File.ReadAllText($"/proc/self/fdinfo/{s.SafeFileHandle.DangerousGetHandle()}");
        int flags = Convert.ToInt32(info.Split('\n').First(l => l.StartsWith("flags:")).Split('\t', ' ', StringSplitOptions.RemoveEmptyEntries)[1], 8);
        Assert.Equal(0, flags & 0x800);
        Assert.NotEqual(0, flags & 0x80000);
        Assert.Equal(0, flags & 3);   // O_RDONLY
    }

    [Theory]
    [InlineData("/dev/zero", FileKind.CharDevice)]
    [InlineData("/dev/kmsg", FileKind.CharDevice)]
    [InlineData("/dev/null", FileKind.CharDevice)]
    public void DevicesAreRefused(string path, FileKind kind)
    {
        var e = Refused(path);
        Assert.Equal(kind, e.Kind);
        Assert.Equal(path, e.Path);
        Assert.Equal($"{path} is a character device, not a regular file", e.Message);
        Assert.IsAssignableFrom<IOException>(e);
    }

    [Fact]
    public void ADirectoryIsRefused()
    {
        using var dir = new TempDir();
        Assert.Equal(FileKind.Directory, Refused(dir.Path).Kind);
    }

    [Fact]
    public void AFifoWithAnIdleWriterIsRefusedFast()
    {
        using var dir = new TempDir();
        string fifo = Path.Combine(dir.Path, "fifo");
        MkFifo(fifo);
        using var writer = new FileStream(fifo, FileMode.Open, FileAccess.ReadWrite, FileShare.ReadWrite, 1);
        var e = Refused(fifo);
        Assert.Equal(FileKind.Fifo, e.Kind);
        Assert.Contains("is a named pipe (FIFO), not a regular file", e.Message);
    }

    [Fact]
    public void AFifoWithoutAWriterIsRefusedFast()
    {
        using var dir = new TempDir();
        string fifo = Path.Combine(dir.Path, "fifo");
        MkFifo(fifo);
        Assert.Equal(FileKind.Fifo, Refused(fifo).Kind);
    }

    [Fact]
    public void SymlinksAreFollowedToTheirFile()
    {
        using var dir = new TempDir();
        string f = dir.Write("a.txt", "abc");
        string link = Path.Combine(dir.Path, "link");
        File.CreateSymbolicLink(link, f);
        using (var s = RegularFile.OpenRead(link))
            Assert.Equal(3, s.Length);
        string toDev = Path.Combine(dir.Path, "dev");
        File.CreateSymbolicLink(toDev, "/dev/zero");
        Assert.Equal(FileKind.CharDevice, Refused(toDev).Kind);
    }

    [Fact]
    public void MissingFilesAndBadPathsAreBpfExceptionsWithErrno()
    {
        using var dir = new TempDir();
        var e = Assert.Throws<BpfException>(() => RegularFile.OpenRead(Path.Combine(dir.Path, "absent")));
        Assert.Equal(2, e.Errno);   // ENOENT
        Assert.Contains("No such file or directory", e.Message);
        Assert.Throws<ArgumentException>(() => RegularFile.OpenRead("a\0b"));
        Assert.Throws<ArgumentException>(() => RegularFile.OpenRead(""));
    }

    [Fact]
    public void LstatDescribesWhatIsThereWithoutFollowing()
    {
        using var dir = new TempDir();
        string f = dir.Write("a.txt", "12345");
        File.SetUnixFileMode(f, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.SetGroup);
        string link = Path.Combine(dir.Path, "link");
        File.CreateSymbolicLink(link, f);

        var s = FileStatus.Lstat(f);
        Assert.Equal(FileKind.Regular, s.Kind);
        Assert.Equal(Convert.ToUInt32("2640", 8), s.Mode);
        Assert.Equal(5, s.Size);
        Assert.Equal(0u, s.Uid);   // the tests run as root
        Assert.Equal(0u, s.Gid);
        Assert.Equal(ulong.Parse(Stat("%i", f)), s.Inode);

        var l = FileStatus.Lstat(link);
        Assert.Equal(FileKind.Symlink, l.Kind);
        Assert.Equal(f.Length, l.Size);
        Assert.Equal(FileKind.Regular, FileStatus.Stat(link).Kind);

        Assert.Equal(FileKind.Directory, FileStatus.Lstat(dir.Path).Kind);
        Assert.Equal(FileKind.CharDevice, FileStatus.Lstat("/dev/null").Kind);
        Assert.Equal(Convert.ToUInt32("666", 8), FileStatus.Lstat("/dev/null").Mode);
        if (Directory.GetFiles("/dev", "loop*").FirstOrDefault(p => Stat("%F", p) == "block special file") is string block)
            Assert.Equal(FileKind.BlockDevice, FileStatus.Lstat(block).Kind);
        string fifo = Path.Combine(dir.Path, "fifo");
        MkFifo(fifo);
        Assert.Equal(FileKind.Fifo, FileStatus.Lstat(fifo).Kind);
        using var socket = new System.Net.Sockets.Socket(System.Net.Sockets.AddressFamily.Unix, System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Unspecified);
        socket.Bind(new System.Net.Sockets.UnixDomainSocketEndPoint(Path.Combine(dir.Path, "sock")));
        Assert.Equal(FileKind.Socket, FileStatus.Lstat(Path.Combine(dir.Path, "sock")).Kind);

        var missing = Assert.Throws<BpfException>(() => FileStatus.Lstat(Path.Combine(dir.Path, "absent")));
        Assert.Equal(2, missing.Errno);
        Assert.Contains(Path.Combine(dir.Path, "absent"), missing.Message);
    }

    [Fact]
    public void StatusOfAnOpenFile()
    {
        using var dir = new TempDir();
        string f = dir.Write("a.txt", "abc");
        using var s = RegularFile.OpenRead(f);
        var st = FileStatus.Of(s.SafeFileHandle);
        Assert.Equal(FileStatus.Lstat(f), st);
    }

    [Fact]
    public void RealPathResolvesEverySymlink()
    {
        using var dir = new TempDir();
        string real = dir.Write("x/y/a.txt", "1");
        Directory.CreateSymbolicLink(Path.Combine(dir.Path, "l1"), Path.Combine(dir.Path, "x"));
        File.CreateSymbolicLink(Path.Combine(dir.Path, "x", "y", "b.txt"), "../y/./a.txt");
        string realDir = RealPath.Of(dir.Path);
        Assert.Equal(Path.Combine(realDir, "x/y/a.txt"), RealPath.Of(Path.Combine(dir.Path, "l1/y/b.txt")));
        Assert.Equal(Path.Combine(realDir, "x"), RealPath.Of(Path.Combine(dir.Path, "x/y/../.")));
        Assert.Equal(2, Assert.Throws<BpfException>(() => RealPath.Of(Path.Combine(dir.Path, "l1/none"))).Errno);
        using var s = RegularFile.OpenRead(Path.Combine(dir.Path, "l1/y/b.txt"));
        Assert.Equal(RealPath.Of(real), RealPath.Of(s.SafeFileHandle));
    }

    [Fact]
    public void KindsDescribeThemselves()
    {
        Assert.Equal("a named pipe (FIFO)", FileKind.Fifo.Describe());
        Assert.Equal("a character device", FileKind.CharDevice.Describe());
        Assert.Equal("a directory", FileKind.Directory.Describe());
        Assert.Equal("a regular file", FileKind.Regular.Describe());
    }

    private static void MkFifo(string path)
    {
        using var p = Process.Start(new ProcessStartInfo("mkfifo", [path]) { RedirectStandardError = true })!;
        string err = p.StandardError.ReadToEnd();
        p.WaitForExit();
        Assert.True(p.ExitCode == 0, $"mkfifo {path}: {err}");
    }

    private static string Stat(string format, string path)
    {
        using var p = Process.Start(new ProcessStartInfo("stat", ["-c", format, path]) { RedirectStandardOutput = true })!;
        string s = p.StandardOutput.ReadToEnd().Trim();
        p.WaitForExit();
        return s;
    }
}
