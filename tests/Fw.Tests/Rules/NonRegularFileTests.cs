using System.Diagnostics;
using Fw.Rules;
using Xunit;
using static Fw.Tests.Rules.RulesTestKit;

namespace Fw.Tests.Rules;

/// <summary>
/// A rules or set file that is not a regular file (a device, a FIFO, a directory, a socket) is refused before
/// one byte is read, and fast: a read from /dev/kmsg or from a FIFO whose writer stays idle never ends.
/// </summary>
public sealed class NonRegularFileTests
{
    /// <summary>Far above what a refusal takes (milliseconds), far below a hang.</summary>
    private static readonly TimeSpan Fast = TimeSpan.FromSeconds(10);

    private const string FeedRules = "sets:\n  feed: {file: feed.txt}\nrules:\n  - {src: \"@feed\", action: drop}\n";

    /// <summary>Loads on its own thread; fails past <see cref="Fast"/> instead of hanging the run.</summary>
    private static LoadResult LoadFast(string path)
    {
        var watch = Stopwatch.StartNew();
        var load = Task.Factory.StartNew(() => RulesLoader.Load(path), CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        Assert.True(load.Wait(Fast), $"loading {path} did not end within {Fast.TotalSeconds:0} s");
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(1), $"loading {path} took {watch.Elapsed.TotalMilliseconds:0} ms");
        return load.Result;
    }

    [Theory]
    [InlineData("/dev/zero")]
    [InlineData("/dev/kmsg")]
    [InlineData("/dev/null")]
    public void RulesFileThatIsACharacterDeviceIsRefused(string device)
    {
        Assert.True(File.Exists(device), $"{device} is missing here");
        var r = LoadFast(device);
        var e = AssertError(r, 1, 1, "cannot read rules file: it is a character device, not a regular file", device);
        Assert.Single(r.Diagnostics);
        Assert.Equal(0, e.Length);
    }

    [Fact]
    public void RulesFileThatIsAFifoWithAnIdleWriterIsRefused()
    {
        using var dir = new TempDir();
        string fifo = Path.Combine(dir.Path, "rules.yaml");
        MkFifo(fifo);
        // A writer that opened the FIFO and says nothing: a read would wait for it forever.
        using var writer = new FileStream(fifo, FileMode.Open, FileAccess.ReadWrite, FileShare.ReadWrite, 1);
        var r = LoadFast(fifo);
        AssertError(r, 1, 1, "cannot read rules file: it is a named pipe (FIFO), not a regular file", fifo);
    }

    [Fact]
    public void RulesFileThatIsAFifoWithoutAWriterIsRefusedAtOnce()
    {
        using var dir = new TempDir();
        string fifo = Path.Combine(dir.Path, "rules.yaml");
        MkFifo(fifo);
        AssertError(LoadFast(fifo), 1, 1, "it is a named pipe (FIFO), not a regular file", fifo);
    }

    [Fact]
    public void SetFileThatIsAFifoWithAnIdleWriterIsRefused()
    {
        using var dir = new TempDir();
        string rules = dir.Write("rules.yaml", FeedRules);
        string fifo = Path.Combine(dir.Path, "feed.txt");
        MkFifo(fifo);
        using var writer = new FileStream(fifo, FileMode.Open, FileAccess.ReadWrite, FileShare.ReadWrite, 1);
        var r = LoadFast(rules);
        AssertError(r, 2, 16, $"cannot read set file '{Path.Combine(dir.Path, "feed.txt")}': it is a named pipe (FIFO), not a regular file", rules);
    }

    [Fact]
    public void SetFileThatIsACharacterDeviceInTheTreeIsRefused()
    {
        using var dir = new TempDir();
        string rules = dir.Write("rules.yaml", FeedRules);
        MkNod(Path.Combine(dir.Path, "feed.txt"), 1, 5);   // /dev/zero's numbers
        var r = LoadFast(rules);
        AssertError(r, 2, 16, $"cannot read set file '{Path.Combine(dir.Path, "feed.txt")}': it is a character device, not a regular file", rules);
        Assert.Single(r.Errors);
    }

    [Fact]
    public void SetFileThatIsADirectoryIsRefused()
    {
        using var dir = new TempDir();
        string rules = dir.Write("rules.yaml", FeedRules);
        Directory.CreateDirectory(Path.Combine(dir.Path, "feed.txt"));
        AssertError(LoadFast(rules), 2, 16, $"cannot read set file '{Path.Combine(dir.Path, "feed.txt")}': it is a directory, not a regular file", rules);
    }

    [Fact]
    public void RulesFileThatIsADirectoryIsRefused()
    {
        using var dir = new TempDir();
        AssertError(LoadFast(dir.Path), 1, 1, "cannot read rules file: it is a directory", dir.Path);
    }

    [Fact]
    public void SetFileThatIsASocketIsRefused()
    {
        using var dir = new TempDir();
        string rules = dir.Write("rules.yaml", FeedRules);
        using var socket = new System.Net.Sockets.Socket(System.Net.Sockets.AddressFamily.Unix, System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Unspecified);
        socket.Bind(new System.Net.Sockets.UnixDomainSocketEndPoint(Path.Combine(dir.Path, "feed.txt")));
        AssertError(LoadFast(rules), 2, 16, "it is a socket, not a regular file", rules);
    }

    [Fact]
    public void ARegularFileThroughASymlinkIsRead()
    {
        using var dir = new TempDir();
        string real = dir.Write("real.yaml", "rules:\n  - action: pass\n");
        string link = Path.Combine(dir.Path, "rules.yaml");
        File.CreateSymbolicLink(link, real);
        Assert.True(LoadFast(link).Ok);
    }

    internal static void MkFifo(string path) => Run("mkfifo", path);

    private static void MkNod(string path, int major, int minor) => Run("mknod", path, "c", major.ToString(), minor.ToString());

    private static void Run(string program, params string[] args)
    {
        using var p = Process.Start(new ProcessStartInfo(program, args) { RedirectStandardError = true })!;
        string err = p.StandardError.ReadToEnd();
        p.WaitForExit();
        Assert.True(p.ExitCode == 0, $"{program} {string.Join(' ', args)}: {err}");
    }
}
