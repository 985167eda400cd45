using System.Diagnostics;
using System.Text;
using System.Text.RegularExpressions;
using Fw.Cli;
using Fw.Compiler;
using Fw.Kernel;
using Fw.Packets;
using Fw.Rules;
using Fw.Testing.Reference;
using Fw.Tests.Kernel;
using Fw.Bpf;
using Fw.Control;

namespace Fw.Tests.Rules;

/// <summary>
/// Bad rules files: the committed corpus (corpus/bad/NNN-name.yaml, each naming its errors in "# expect:"
/// lines, with the set files it uses in corpus/bad/feeds/) and the cases that cannot be committed, made at
/// run time (<see cref="Generated"/>). Every one is refused with errors at file:line:col, never a crash or a
/// hang, through the library and through fwctl; and a reload with any of them leaves the kernel as it was.
/// </summary>
public sealed class BadRulesCorpusTests(BadRulesCorpusTests.Generated generated) : IClassFixture<BadRulesCorpusTests.Generated>
{
    /// <summary>A guard against hangs, not a timing assertion: every file here is answered in well under a second or two.</summary>
    private static readonly TimeSpan HangGuard = TimeSpan.FromSeconds(30);

    /// <summary>Errors kept per file before the rest are only counted (Fw.Rules' DiagnosticBag.MaxPerFile).</summary>
    private const int MaxErrorsKept = 100;

    public static readonly string CorpusDir = Path.Combine(AppContext.BaseDirectory, "Rules", "corpus", "bad");

    /// <summary>One expected error: in the rules file (File null) or in a file relative to its folder.</summary>
    public sealed record Expect(string? File, int Line, int Column, string Fragment)
    {
        private static readonly Regex Form = new(@"^# expect: (?:(?<file>[^:]+):)?(?<line>\d+):(?<col>\d+): error: (?<msg>.+)$");

        public string Where(string rulesFile) =>
            File is null ? rulesFile : Path.Combine(Path.GetDirectoryName(rulesFile)!, File);

        public override string ToString() => $"{File ?? "(rules file)"}:{Line}:{Column}: error: {Fragment}";

        /// <summary>The "# expect:" lines of a file (read as UTF-8, bad bytes replaced: the lines are ASCII).</summary>
        public static List<Expect> Of(string path) =>
            System.IO.File.ReadLines(path)
                .Select(line => Form.Match(line))
                .Where(m => m.Success)
                .Select(m => new Expect(m.Groups["file"].Success ? m.Groups["file"].Value : null,
                    int.Parse(m.Groups["line"].Value), int.Parse(m.Groups["col"].Value), m.Groups["msg"].Value))
                .ToList();
    }

    /// <summary>A bad file and what it must give. Exact: these errors and no others; else at least these (bombs).</summary>
    public sealed record Case(string Name, string Path, IReadOnlyList<Expect> Expects, bool Exact = true);

    public static TheoryData<string> CommittedNames()
    {
        var data = new TheoryData<string>();
        foreach (string f in CommittedFiles())
            data.Add(Path.GetFileName(f));
        return data;
    }

    public static TheoryData<string> GeneratedNames()
    {
        var data = new TheoryData<string>();
        foreach (string name in Generated.Names)
            data.Add(name);
        return data;
    }

    private static IReadOnlyList<string> CommittedFiles() =>
        Directory.GetFiles(CorpusDir, "*.yaml").Order(StringComparer.Ordinal).ToList();

    private static Case Committed(string name)
    {
        string path = Path.Combine(CorpusDir, name);
        return new Case(name, path, Expect.Of(path));
    }

    private IEnumerable<Case> AllCases() => CommittedFiles().Select(f => Committed(Path.GetFileName(f))).Concat(generated.Cases);

    [Fact]
    public void TheCorpusHoldsAtLeastAHundredFilesEachWithItsExpectations()
    {
        var files = CommittedFiles();
        Assert.True(files.Count >= 100, $"{files.Count} corpus files");
        foreach (string f in files)
        {
            Assert.Matches(@"^\d{3}-[a-z0-9-]+\.yaml$", Path.GetFileName(f));
            Assert.True(Expect.Of(f).Count > 0, $"{f} has no '# expect:' line");
        }
    }

    [Theory]
    [MemberData(nameof(CommittedNames))]
    public async Task CommittedFileIsRefusedWhereItSays(string name) => await RefusedAsExpected(Committed(name));

    [Theory]
    [MemberData(nameof(GeneratedNames))]
    public async Task GeneratedFileIsRefusedWhereItSays(string name) => await RefusedAsExpected(generated[name]);

    private static async Task RefusedAsExpected(Case c)
    {
        var check = await Guarded(c.Name, () => RulesCheck.Check(c.Path));
        AssertRefused(c, check.Diagnostics);
        Assert.False(check.Ok);
        Assert.Null(check.Image);
        // Bounded output: errors past the cap per file are only counted, long values are cut in messages.
        Assert.True(check.Diagnostics.Count <= 2 * (MaxErrorsKept + 1), $"{c.Name}: {check.Diagnostics.Count} findings");
        Assert.All(check.Diagnostics, d => Assert.True(d.Message.Length < 400 + 2 * d.Pos.File.Length, $"{c.Name}: a {d.Message.Length}-character message"));
    }

    /// <summary>Every error at file:line:col with line and column from 1, each expectation met by its own error.</summary>
    private static void AssertRefused(Case c, IReadOnlyList<Diagnostic> diagnostics)
    {
        var errors = diagnostics.Where(d => d.Severity == Severity.Error).ToList();
        string got = $"\n{c.Name} gave:\n" + string.Join("\n", diagnostics.Select(d => Clip(d.ToString())));
        Assert.True(errors.Count > 0, "no error" + got);
        foreach (var e in diagnostics)
        {
            Assert.True(e.Pos.Line >= 1 && e.Pos.Column >= 1, $"no line:col in '{e}'" + got);
            Assert.DoesNotContain("internal error", e.Message);
        }
        var unmatched = new List<Diagnostic>(errors);
        foreach (var x in c.Expects)
        {
            string file = x.Where(c.Path);
            var hit = unmatched.FirstOrDefault(e => e.Pos.File == file && e.Pos.Line == x.Line && e.Pos.Column == x.Column && e.Message.Contains(x.Fragment));
            Assert.True(hit is not null, $"expected {file}:{x.Line}:{x.Column}: error: ...{x.Fragment}..." + got);
            unmatched.Remove(hit!);
        }
        if (c.Exact)
            Assert.True(unmatched.Count == 0, "errors no '# expect:' line names:\n" + string.Join("\n", unmatched) + got);
    }

    private static string Clip(string s) => s.Length <= 300 ? s : s[..300] + "...";

    /// <summary>Runs <paramref name="body"/> on its own thread; fails (instead of hanging the run) past <see cref="HangGuard"/>.</summary>
    private static async Task<T> Guarded<T>(string what, Func<T> body)
    {
        var run = Task.Factory.StartNew(body, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        try
        {
            return await run.WaitAsync(HangGuard);
        }
        catch (TimeoutException)
        {
            Assert.Fail($"{what}: no answer within {HangGuard.TotalSeconds:0} s: a hang");
            throw;
        }
    }

    // ---- the cases that must be fast and small, not only right ----

    [Fact]
    public async Task HundredMegabyteFileIsRefusedWithoutBeingRead()
    {
        var c = generated["100-megabytes"];
        Assert.Equal(100L << 20, new FileInfo(c.Path).Length);
        var (result, allocated) = await LoadCounted(c);
        AssertRefused(c, result.Diagnostics);
        Assert.True(allocated < 1 << 20, $"refusing a 100 MB file allocated {allocated:N0} bytes");
    }

    /// <summary>Loads a case (hang-guarded) and counts the bytes the loading thread allocated meanwhile.</summary>
    private static Task<(LoadResult Result, long Allocated)> LoadCounted(Case c) => Guarded(c.Name, () =>
    {
        long before = GC.GetAllocatedBytesForCurrentThread();
        var r = RulesLoader.Load(c.Path);
        return (r, GC.GetAllocatedBytesForCurrentThread() - before);
    });

    /// <summary>Just under the size bound: read, but not built past the rules bound (it took 48 s and 1.7 GB).</summary>
    [Fact]
    public async Task SixtyThreeMegabytesOfRulesStopAtTheRulesBound()
    {
        var c = generated["63-megabytes-of-rules"];
        var (result, allocated) = await LoadCounted(c);
        AssertRefused(c, result.Diagnostics);
        Assert.True(allocated < 1L << 30, $"refusing 63 MB of rules allocated {allocated:N0} bytes");
    }

    [Fact]
    public async Task DevZeroIsRefusedUnread()
    {
        var c = generated["rules-file-is-dev-zero"];
        var (result, allocated) = await LoadCounted(c);
        AssertRefused(c, result.Diagnostics);
        Assert.True(allocated < 1 << 20, $"refusing /dev/zero allocated {allocated:N0} bytes");
    }

    // ---- through fwctl ----

    /// <summary>The generated cases fwctl's own paths could trip on (it reads the file again to show the line).</summary>
    private static readonly string[] CliSample =
    [
        "empty", "100-megabytes", "directory", "fifo-without-writer", "missing", "rules-file-is-dev-zero", "rules-file-is-dev-kmsg",
        "set-file-is-dev-urandom", "set-file-char-device-in-the-tree", "set-file-symlink-out-of-the-tree",
        "binary-elf", "utf16", "nul-after-cr-line-endings", "billion-laughs", "prefixes-past-the-bound", "ten-megabyte-line",
    ];

    /// <summary>Every 7th committed file and a sample of the generated ones, through fwctl check as a user runs it.</summary>
    [Fact]
    public async Task FwctlCheckRefusesASampleWithExitTwoAndPositions()
    {
        var sample = CommittedFiles().Where((_, i) => i % 7 == 0).Select(f => Committed(Path.GetFileName(f)))
            .Concat(CliSample.Select(n => generated[n]));
        foreach (var c in sample)
        {
            var (rc, stdout, stderr) = await Guarded(c.Name, () => Fwctl("check", c.Path));
            Assert.True(rc == 2, $"{c.Name}: exit {rc}\n{Clip(stderr)}");
            Assert.Equal("", stdout);
            foreach (var x in c.Expects)
                Assert.True(stderr.Contains($"{x.Where(c.Path)}:{x.Line}:{x.Column}: error: "), $"{c.Name}: no {x} in\n{Clip(stderr)}");
            Assert.Contains("nothing loaded", stderr);
        }
    }

    /// <summary>The fwctl process itself ends at once on a FIFO without a writer: it is refused before it is opened.</summary>
    [Fact]
    public async Task FwctlProcessEndsOnAFifoWithoutAWriter()
    {
        var c = generated["fifo-without-writer"];
        var psi = new ProcessStartInfo("dotnet", [Path.Combine(AppContext.BaseDirectory, "fwctl.dll"), "check", c.Path])
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        using var p = Process.Start(psi)!;
        var stderr = p.StandardError.ReadToEndAsync();
        var stdout = p.StandardOutput.ReadToEndAsync();
        try
        {
            await p.WaitForExitAsync().WaitAsync(HangGuard);
        }
        catch (TimeoutException)
        {
            p.Kill();
            Assert.Fail($"fwctl check {c.Path}: still running after {HangGuard.TotalSeconds:0} s");
        }
        Assert.Equal(2, p.ExitCode);
        Assert.Equal("", await stdout);
        Assert.Contains($"{c.Path}:1:1: error: cannot read rules file: it is a named pipe (FIFO), not a regular file", await stderr);
    }

    /// <summary>
    /// A FIFO with a writer waiting to send rules: fwctl refuses it without opening it (the writer is still
    /// waiting for a reader afterwards) and ends.
    /// </summary>
    [Fact]
    public async Task FwctlCheckOfAFifoWithAWriterRefusesItUnopened()
    {
        using var dir = new RulesTestKit.TempDir();
        string fifo = Path.Combine(dir.Path, "rules.yaml");
        Generated.MkFifo(fifo);
        using var writer = Process.Start(new ProcessStartInfo("sh", ["-c", "printf 'rules:\\n  - action: dorp\\n' > \"$1\"", "sh", fifo]))!;
        try
        {
            var (rc, stdout, stderr) = await Guarded("fwctl check FIFO", () => Fwctl("check", fifo));
            Assert.Equal(2, rc);
            Assert.Equal("", stdout);
            Assert.Contains($"{fifo}:1:1: error: cannot read rules file: it is a named pipe (FIFO), not a regular file", stderr);
            Assert.False(writer.HasExited, "the writer found a reader: fwctl opened the FIFO");
        }
        finally
        {
            writer.Kill();
            await writer.WaitForExitAsync();
        }
    }

    private static (int Exit, string Out, string Err) Fwctl(params string[] args)
    {
        var (o, e) = (new StringWriter(), new StringWriter());
        int rc = FwctlApp.Run(args, o, e);
        return (rc, o.ToString(), e.ToString());
    }

    // ---- nothing changed in the kernel ----

    private const string GoodRules = """
        default: pass
        rules:
          - {name: ssh, proto: tcp, dport: 22, action: drop}
          - {name: web, proto: tcp, dport: [80, 443], action: pass}
          - {name: dns, proto: udp, dport: 53, action: drop}
        """;

    private static readonly byte[][] Frames =
    [
        Frame.Tcp("198.18.0.1", "198.18.0.2", 40000, 22).Build(),
        Frame.Tcp("198.18.0.1", "198.18.0.2", 40000, 443).Build(),
        Frame.Udp("198.18.0.1", "198.18.0.2", 40000, 53).Build(),
        Frame.Udp("198.18.0.1", "198.18.0.2", 40000, 123).Build(),
    ];

    /// <summary>What a failed reload must leave alone: generation, digest, programs, pins and every counter.</summary>
    private sealed record KernelState(ulong Generation, string Digest, uint AttachedProgram, uint LiveProgram, string Pins, string Counters);

    private static KernelState Read(string iface)
    {
        using var state = InterfaceState.Open(iface);
        using var progs = BpfMap.OpenPinned(PinLayout.Progs(iface));
        string dir = PinLayout.Dir(iface);
        string pins = string.Join("\n", Directory.GetFileSystemEntries(dir, "*", SearchOption.AllDirectories)
            .Select(p => Path.GetRelativePath(dir, p)).Order(StringComparer.Ordinal));
        var s = StatsSnapshot.Read(state);
        var counters = new StringBuilder();
        foreach (var (name, counter) in new[]
        {
            ("pass", s.Pass), ("drop", s.Drop), ("redirect", s.Redirect), ("default", s.Default), ("malformed", s.Malformed),
            ("non_ip", s.NonIp), ("no_ruleset", s.NoRuleset), ("redirect_errors", s.RedirectErrors),
        }.Concat(s.Rules.Select(r => (r.Name, r.Counter))))
        {
            counters.Append($"{name}={counter.Total.Packets}/{counter.Total.Bytes} ");
        }
        return new KernelState(state.Meta.Generation, state.Meta.DigestHex, Firewall.AttachedProgramId(iface),
            progs.Lookup<uint, uint>(0u), pins, counters.ToString());
    }

    private static XdpAction RunLive(string iface, byte[] frame)
    {
        using var prog = FdHandle.OpenPinned(PinLayout.Prog(iface));
        return BpfObject.TestRun(prog.Fd, frame).Verdict;
    }

    private static XdpAction Expected(Ruleset rs, byte[] frame) => ReferenceEvaluator.Evaluate(rs, frame).Action switch
    {
        RuleAction.Pass => XdpAction.Pass,
        RuleAction.Drop => XdpAction.Drop,
        _ => XdpAction.Redirect,
    };

    [Fact]
    public async Task NoBadFileChangesTheKernel()
    {
        using var veth = new TestVeth();
        using var dir = new RulesTestKit.TempDir();
        string good = dir.Write("good.yaml", GoodRules);
        var goodCheck = RulesCheck.Check(good);
        Assert.True(goodCheck.Ok, string.Join("\n", goodCheck.Diagnostics));
        Deployment.Attach(veth.Name, goodCheck, XdpMode.Auto);
        try
        {
            foreach (var f in Frames)
                Assert.Equal(Expected(goodCheck.Ruleset!, f), RunLive(veth.Name, f));   // counters are not all zero
            var before = Read(veth.Name);
            Assert.Equal(1UL, before.Generation);
            Assert.NotEqual(0u, before.LiveProgram);

            var cases = AllCases().ToList();
            // A few at a time: the FIFO cases wait out the open bound meanwhile.
            await Parallel.ForEachAsync(cases, new ParallelOptions { MaxDegreeOfParallelism = 4 }, async (c, _) =>
            {
                var failure = await Guarded(c.Name, () =>
                {
                    var check = RulesCheck.Check(c.Path);
                    return Record.Exception(() => Deployment.Reload(veth.Name, check));
                });
                Assert.True(failure is RulesException, $"{c.Name}: reload gave {failure?.GetType().Name ?? "no exception"}: {failure?.Message}");
            });
            // fwctl reload for a sample: exit 2, the errors, and "unchanged".
            foreach (var c in cases.Where((_, i) => i % 10 == 0))
            {
                var (rc, _, stderr) = await Guarded(c.Name, () => Fwctl("reload", veth.Name, "--rules", c.Path));
                Assert.True(rc == 2, $"{c.Name}: fwctl reload exit {rc}\n{Clip(stderr)}");
                Assert.Contains($"{veth.Name} unchanged", stderr);
                var x = c.Expects[0];
                Assert.True(stderr.Contains($"{x.Where(c.Path)}:{x.Line}:{x.Column}: error: "), $"{c.Name}: no {x} in\n{Clip(stderr)}");
            }

            Assert.Equal(before, Read(veth.Name));
            foreach (var f in Frames)
                Assert.Equal(Expected(goodCheck.Ruleset!, f), RunLive(veth.Name, f));
        }
        finally
        {
            Firewall.Detach(veth.Name);
        }
        Assert.False(Directory.Exists(PinLayout.Dir(veth.Name)));
        Assert.Equal(0u, Firewall.AttachedProgramId(veth.Name));
    }

    /// <summary>
    /// The bad files that cannot be committed: too large, not text, not regular files, bombs, bounds. Made once
    /// per run in a temp folder (removed at the end); each knows the errors it must give.
    /// </summary>
    public sealed class Generated : IDisposable
    {
        private readonly RulesTestKit.TempDir _dir = new();
        private readonly Dictionary<string, Case> _cases = new(StringComparer.Ordinal);

        public static readonly IReadOnlyList<string> Names =
        [
            "empty", "100-megabytes", "63-megabytes-of-rules", "directory", "fifo-without-writer", "set-file-fifo-without-writer", "missing",
            "dangling-symlink", "symlink-loop", "path-through-a-file", "path-too-long", "rules-file-is-dev-zero", "rules-file-is-dev-kmsg",
            "set-file-is-dev-urandom", "set-file-unreadable-proc-mem", "set-file-char-device-in-the-tree", "set-file-out-of-the-tree",
            "set-file-symlink-out-of-the-tree", "set-file-symlink-loop", "set-file-too-large",
            "binary-elf", "binary-set-file", "utf16", "overlong-utf8", "lone-continuation-byte", "truncated-utf8-at-end",
            "utf8-surrogate", "nul-after-cr-line-endings", "billion-laughs", "200-thousand-aliases", "deep-flow-lists",
            "deep-flow-mappings", "deep-block-mappings", "prefixes-past-the-bound", "rules-past-the-bound",
            "ten-megabyte-line", "a-hundred-thousand-errors", "many-sets-many-unknown-references",
            "one-set-file-named-by-many-sets", "a-large-comment-file-named-by-many-sets",
        ];

        public Generated()
        {
            foreach (string name in Names)
                _cases[name] = Make(name);
        }

        public Case this[string name] => _cases[name];

        public IEnumerable<Case> Cases => Names.Select(n => _cases[n]);

        public void Dispose() => _dir.Dispose();

        private static Expect At(int line, int column, string fragment) => new(null, line, column, fragment);

        private string P(string name) => Path.Combine(_dir.Path, name);

        private const string FeedRules = "sets:\n  feed: {file: feed.txt}\nrules:\n  - src: \"@feed\"\n    action: drop\n";
        private static readonly Expect AtFeed = At(2, 16, "cannot read set file");

        /// <summary>A folder of its own per case: its rules file is rules.yaml, set files beside it.</summary>
        private Case Make(string name)
        {
            string d = P(name);
            Directory.CreateDirectory(d);
            string rules = Path.Combine(d, "rules.yaml");
            string feed = Path.Combine(d, "feed.txt");
            Case One(string path, params Expect[] x) => new(name, path, x);
            Case Feed(params Expect[] x)
            {
                File.WriteAllText(rules, FeedRules);
                return One(rules, x);
            }
            Case Bytes(byte[] data, params Expect[] x)
            {
                File.WriteAllBytes(rules, data);
                return One(rules, x);
            }
            switch (name)
            {
                case "empty":
                    return Bytes([], At(1, 1, "empty rules file"));
                case "100-megabytes":
                    WriteRules(rules, 100L << 20);
                    return One(rules, At(1, 1, "rules file is too large (104,857,600 bytes; at most 64 MiB)"));
                case "63-megabytes-of-rules":
                    WriteRules(rules, 63L << 20);
                    return One(rules, At(4098, 5, "ruleset exceeds 4096 rules; this is rule 4097 (the rest of the file is not read)"));
                case "directory":
                    Directory.CreateDirectory(rules);
                    return One(rules, At(1, 1, "cannot read rules file: it is a directory"));
                case "fifo-without-writer":
                    MkFifo(rules);
                    return One(rules, At(1, 1, "cannot read rules file: it is a named pipe (FIFO), not a regular file"));
                case "set-file-fifo-without-writer":
                    MkFifo(feed);
                    return Feed(AtFeed with { Fragment = "cannot read set file '" + feed + "': it is a named pipe (FIFO), not a regular file" });
                case "missing":
                    return One(rules, At(1, 1, "cannot read rules file: no such file"));
                case "dangling-symlink":
                    File.CreateSymbolicLink(rules, Path.Combine(d, "gone.yaml"));
                    return One(rules, At(1, 1, "cannot read rules file: no such file"));
                case "symlink-loop":
                    File.CreateSymbolicLink(rules, Path.Combine(d, "other.yaml"));
                    File.CreateSymbolicLink(Path.Combine(d, "other.yaml"), rules);
                    return One(rules, At(1, 1, "cannot read rules file: "));
                case "path-through-a-file":
                    File.WriteAllText(Path.Combine(d, "file.yaml"), "rules: []\n");
                    return One(Path.Combine(d, "file.yaml", "rules.yaml"), At(1, 1, "cannot read rules file: "));
                case "path-too-long":
                    return One(Path.Combine(d, string.Join('/', Enumerable.Repeat(new string('x', 250), 20)), "rules.yaml"),
                        At(1, 1, "cannot read rules file: "));
                case "rules-file-is-dev-zero":
                    File.CreateSymbolicLink(rules, "/dev/zero");
                    return One(rules, At(1, 1, "cannot read rules file: it is a character device, not a regular file"));
                case "rules-file-is-dev-kmsg":
                    // Read, it gives the kernel log and then waits for the next message forever.
                    File.CreateSymbolicLink(rules, "/dev/kmsg");
                    return One(rules, At(1, 1, "cannot read rules file: it is a character device, not a regular file"));
                case "set-file-is-dev-urandom":
                    File.CreateSymbolicLink(feed, "/dev/urandom");
                    return Feed(AtFeed with { Fragment = "set file '" + feed + "' resolves to /dev/urandom, outside the rules file's folder" });
                case "set-file-unreadable-proc-mem":
                    File.CreateSymbolicLink(feed, "/proc/self/mem");
                    return Feed(AtFeed with { Fragment = "outside the rules file's folder" });
                case "set-file-char-device-in-the-tree":
                    Run("mknod", feed, "c", "1", "11");   // /dev/kmsg's numbers
                    return Feed(AtFeed with { Fragment = "cannot read set file '" + feed + "': it is a character device, not a regular file" });
                case "set-file-out-of-the-tree":
                    File.WriteAllText(rules, "sets:\n  feed: {file: ../../../../../../../../etc/passwd}\n");
                    return One(rules, At(2, 16, "is outside the rules file's folder"));
                case "set-file-symlink-out-of-the-tree":
                    File.CreateSymbolicLink(feed, "/etc/passwd");
                    return Feed(AtFeed with { Fragment = "resolves to /etc/passwd, outside the rules file's folder" });
                case "set-file-symlink-loop":
                    File.CreateSymbolicLink(feed, feed);
                    return Feed(AtFeed);
                case "set-file-too-large":
                    using (var f = new FileStream(feed, FileMode.Create))
                        f.SetLength(SetFileReaderMaxBytes + 1);   // sparse: nothing is written
                    return Feed(AtFeed with { Fragment = "is too large (268,435,457 bytes; at most 256 MiB)" });
                case "binary-elf":
                    return Bytes([0x7f, (byte)'E', (byte)'L', (byte)'F', 2, 1, 1, 0, 0, 0, 0, 0], At(1, 8, "NUL byte"));
                case "binary-set-file":
                {
                    var junk = new byte[1 << 16];
                    new Random(42).NextBytes(junk);
                    junk[1000] = 0;
                    File.WriteAllBytes(feed, junk);
                    return Feed(AtFeed with { Fragment = "is binary, not text" });
                }
                case "utf16":
                    return Bytes(Encoding.Unicode.GetPreamble().Concat(Encoding.Unicode.GetBytes("rules: []\n")).ToArray(),
                        At(1, 1, "invalid UTF-8 byte 0xFF"));
                case "overlong-utf8":
                    return Bytes([.. "rules:\n  - name: a"u8, 0xC0, 0xAF, .. "\n    action: pass\n"u8], At(2, 12, "invalid UTF-8 byte 0xC0"));
                case "lone-continuation-byte":
                    return Bytes([.. "default: pass\nrules:\n  - {action: pass, name: x"u8, 0x80, .. "}\n"u8], At(3, 27, "invalid UTF-8 byte 0x80"));
                case "truncated-utf8-at-end":
                    return Bytes([.. "rules: []\n# price in \u20ac: "u8, 0xE2, 0x82], At(2, 15, "invalid UTF-8 byte 0xE2"));
                case "utf8-surrogate":
                    return Bytes([.. "rules: []\n# "u8, 0xED, 0xA0, 0x80, .. "\n"u8], At(2, 3, "invalid UTF-8 byte 0xED"));
                case "nul-after-cr-line-endings":
                    return Bytes([.. "rules:\r  - action: pass\r  "u8, 0, .. "\r"u8], At(3, 3, "NUL byte"));
                case "billion-laughs":
                {
                    var lines = new List<string> { "a0: &a0 [x, x, x, x, x, x, x, x, x, x]" };
                    for (int i = 1; i < 10; i++)
                        lines.Add($"a{i}: &a{i} [{string.Join(", ", Enumerable.Repeat($"*a{i - 1}", 10))}]");
                    lines.Add("rules: *a9");
                    File.WriteAllText(rules, string.Join("\n", lines) + "\n");
                    return new Case(name, rules, [At(1, 5, "YAML anchors are not supported (&a0)"), At(2, 10, "YAML aliases are not supported (*a0)")], Exact: false);
                }
                case "200-thousand-aliases":
                {
                    var sb = new StringBuilder("sets:\n  a: &a [192.0.2.0/24]\nrules:\n  - action: drop\n    src: [");
                    sb.AppendJoin(", ", Enumerable.Repeat("*a", 200_000)).Append("]\n");
                    File.WriteAllText(rules, sb.ToString());
                    return new Case(name, rules, [At(2, 6, "YAML anchors are not supported (&a)"), At(5, 11, "YAML aliases are not supported (*a)")], Exact: false);
                }
                case "deep-flow-lists":
                    File.WriteAllText(rules, "rules: " + new string('[', 1_000_000) + "\n");
                    return new Case(name, rules, [At(1, 39, "invalid YAML: nesting deeper than 32 levels")], Exact: false);
                case "deep-flow-mappings":
                    File.WriteAllText(rules, "rules: [" + string.Concat(Enumerable.Repeat("{a: ", 100_000)) + "\n");
                    return new Case(name, rules, [At(1, 129, "invalid YAML: nesting deeper than 32 levels")], Exact: false);
                case "deep-block-mappings":
                    File.WriteAllText(rules, string.Concat(Enumerable.Range(0, 10_000).Select(i => new string(' ', i) + "k:\n")));
                    return new Case(name, rules, [At(33, 33, "invalid YAML: nesting deeper than 32 levels")], Exact: false);
                case "prefixes-past-the-bound":
                    RulesLoaderTests.WriteV4Lines(feed, RulesScaleTests.Max + 1);
                    File.WriteAllText(rules, "sets:\n  feed: {file: feed.txt}\n");
                    return One(rules, new Expect("feed.txt", RulesScaleTests.Max + 1, 1, $"ruleset exceeds {RulesScaleTests.Max} prefixes"));
                case "rules-past-the-bound":
                    File.WriteAllText(rules, "rules:\n" + string.Concat(Enumerable.Repeat("  - action: pass\n", 4097)));
                    return One(rules, At(4098, 5, "ruleset exceeds 4096 rules; this is rule 4097"));
                case "ten-megabyte-line":
                    File.WriteAllText(rules, "rules:\n  - action: " + new string('p', 10 << 20) + "\n");
                    return One(rules, At(2, 13, "unknown action 'ppppp"));
                case "a-hundred-thousand-errors":
                    File.WriteAllText(rules, "rules:\n  - proto: tcp\n    action: drop\n    dport: [" + string.Join(", ", Enumerable.Repeat("70000", 100_000)) + "]\n");
                    return new Case(name, rules, [At(4, 13, "port 70000 is out of range"), At(4, 13 + 100 * 7, "99900 more errors in")], Exact: false);
                case "many-sets-many-unknown-references":
                {
                    // Each unknown name was compared with every set for a suggestion: 50,000 squared took hours.
                    var sb = new StringBuilder("sets:\n");
                    for (int i = 0; i < 50_000; i++)
                        sb.Append($"  set{i:D6}: []\n");
                    sb.Append("rules:\n  - action: drop\n    src: [");
                    sb.AppendJoin(", ", Enumerable.Range(0, 50_000).Select(i => $"\"@sat{i:D6}\"")).Append("]\n");
                    File.WriteAllText(rules, sb.ToString());
                    return new Case(name, rules, [At(50_004, 11, "unknown set 'sat000000'"), At(50_004, 11 + 100 * 14, "49900 more errors in")], Exact: false);
                }
                case "one-set-file-named-by-many-sets":
                    // The second set passes the prefix bound; the file was read (and held) once per set: 50 x 600,000.
                    RulesLoaderTests.WriteV4Lines(feed, 600_000);
                    File.WriteAllText(rules, "sets:\n" + string.Concat(Enumerable.Range(0, 50).Select(i => $"  s{i}: {{file: feed.txt}}\n")));
                    return One(rules, At(3, 14, $"ruleset exceeds {RulesScaleTests.Max} prefixes"));
                case "a-large-comment-file-named-by-many-sets":
                {
                    // 48 MB of comments named by 500 sets: read once, not 500 times (minutes), before the error at the end.
                    using (var f = new StreamWriter(feed))
                    {
                        string comment = "# " + new string('-', 97);
                        for (int i = 0; i < 480_000; i++)
                            f.WriteLine(comment);
                    }
                    File.WriteAllText(rules, "sets:\n" + string.Concat(Enumerable.Range(0, 500).Select(i => $"  s{i}: {{file: feed.txt}}\n"))
                        + "rules:\n  - action: dorp\n");
                    return One(rules, At(503, 13, "unknown action 'dorp'"));
                }
                default:
                    throw new ArgumentException(name);
            }
        }

        private const long SetFileReaderMaxBytes = 256L << 20;   // Fw.Rules' SetFileReader.MaxBytes

        /// <summary>A real file (written, not sparse) of <paramref name="bytes"/> bytes of plausible rules, one a line.</summary>
        private static void WriteRules(string path, long bytes)
        {
            using var f = new FileStream(path, FileMode.Create);
            f.Write("rules:\n"u8);
            byte[] line = "  - {src: 192.0.2.0/24, proto: tcp, dport: 22, action: drop}\n"u8.ToArray();
            var block = new byte[line.Length * 16384];
            for (int i = 0; i < block.Length; i += line.Length)
                line.CopyTo(block, i);
            for (long left = bytes - f.Length; left > 0;)
            {
                int n = (int)Math.Min(left, block.Length);
                f.Write(block, 0, n);
                left -= n;
            }
        }

        internal static void MkFifo(string path) => Run("mkfifo", path);

        private static void Run(string program, params string[] args)
        {
            using var p = Process.Start(new ProcessStartInfo(program, args) { RedirectStandardError = true })!;
            string err = p.StandardError.ReadToEnd();
            p.WaitForExit();
            Assert.True(p.ExitCode == 0, $"{program} {string.Join(' ', args)}: {err}");
        }
    }
}
