using Fw.Rules;
using Xunit;
using static Fw.Tests.Rules.RulesTestKit;

namespace Fw.Tests.Rules;

/// <summary>Sets read from files: the format, its errors (at the set file's line:col) and its scale.</summary>
public class SetFileTests
{
    private const string Rules = "sets:\n  feed: {file: feeds/drop.txt}\nrules:\n  - {src: \"@feed\", action: drop}\n";
    // the file: value stands at 2:16

    [Fact]
    public void CommentsBlankLinesAndCrlf()
    {
        using var dir = new TempDir();
        dir.Write("feeds/drop.txt", "# a feed\n\n203.0.113.0/24\n  198.51.100.7   # trailing comment\r\n\t2001:db8:bad::/48\n   \n# end");
        var rs = ParseOk(Rules, dir.Path);
        var set = rs.Sets["feed"];
        Assert.Equal(["203.0.113.0/24", "198.51.100.7/32", "2001:db8:bad::/48"], set.Prefixes.Select(p => p.ToString()));
        Assert.Equal(Path.Combine(dir.Path, "feeds/drop.txt"), set.File);
        Assert.Same(set, rs.Rules[0].Src!.Sets[0]);
        Assert.Equal(3, rs.PrefixCount);
    }

    [Fact]
    public void EmptySetFileIsAnEmptySet()
    {
        using var dir = new TempDir();
        dir.Write("feeds/drop.txt", "# nothing today\n");
        var r = Parse(Rules, dir.Path);
        Assert.True(r.Ok);
        Assert.Empty(r.Ruleset!.Sets["feed"].Prefixes);
    }

    [Fact]
    public void ErrorsInASetFileAreReportedInIt()
    {
        using var dir = new TempDir();
        dir.Write("feeds/drop.txt", "10.0.0.0/8\n\n  10.0.0.1/33  # bad\n192.0.2.1 192.0.2.2\n10.1.2.3/8\nnonsense\n");
        var r = Parse(Rules, dir.Path);
        string f = Path.Combine(dir.Path, "feeds/drop.txt");
        AssertError(r, 3, 3, "prefix length 33 is too long for IPv4", f);
        AssertError(r, 4, 11, "one address or prefix per line", f);
        AssertError(r, 5, 1, "host bits set in '10.1.2.3/8'; did you mean 10.0.0.0/8?", f);
        AssertError(r, 6, 1, "'nonsense' is not an IP address or prefix", f);
        Assert.Equal(4, r.Errors.Count());
        Assert.DoesNotContain(r.Errors, e => e.Message.Contains("unknown set")); // the set exists, it is only broken
    }

    [Fact]
    public void MissingSetFileIsReportedAtTheFileValue()
    {
        using var dir = new TempDir();
        var r = Parse(Rules, dir.Path);
        var e = AssertError(r, 2, 16, "cannot read set file");
        Assert.Contains("no such file", e.Message);
        Assert.Equal("feeds/drop.txt".Length, e.Length);
        Assert.Single(r.Errors);
    }

    [Fact]
    public void SetFileThatIsADirectory()
    {
        using var dir = new TempDir();
        Directory.CreateDirectory(Path.Combine(dir.Path, "feeds/drop.txt"));
        AssertError(Parse(Rules, dir.Path), 2, 16, "it is a directory");
    }

    [Fact]
    public void BinarySetFile()
    {
        using var dir = new TempDir();
        Directory.CreateDirectory(Path.Combine(dir.Path, "feeds"));
        dir.WriteBytes("feeds/drop.txt", [(byte)'1', (byte)'\n', 0x1f, 0x8b, 0x08, 0x00, 0x00]);
        AssertError(Parse(Rules, dir.Path), 2, 16, "is binary, not text (NUL byte at line 2, column 4)");
    }

    [Fact]
    public void NonUtf8SetFile()
    {
        using var dir = new TempDir();
        Directory.CreateDirectory(Path.Combine(dir.Path, "feeds"));
        dir.WriteBytes("feeds/drop.txt", [.. "10.0.0.0/8\n# caf"u8, 0xE9, (byte)'\n']);
        AssertError(Parse(Rules, dir.Path), 2, 16, "is not UTF-8 text (invalid byte 0xE9 at line 2, column 6)");
    }

    [Fact]
    public void Utf8CommentsAreFine()
    {
        using var dir = new TempDir();
        dir.Write("feeds/drop.txt", "# Liste für café\n10.0.0.0/8 # ünïcode\n");
        Assert.Single(ParseOk(Rules, dir.Path).Sets["feed"].Prefixes);
    }

    [Fact]
    public void AbsoluteSetFilePathInTheRulesFolder()
    {
        using var dir = new TempDir();
        string f = dir.Write("abs.txt", "10.0.0.0/8\n");
        var rs = ParseOk($"sets:\n  a: {{file: \"{f}\"}}\n", dir.Path);
        Assert.Equal(f, rs.Sets["a"].File);
    }

    [Fact]
    public void AbsoluteSetFilePathElsewhereIsRefused()
    {
        using var dir = new TempDir();
        using var other = new TempDir();
        string f = other.Write("abs.txt", "10.0.0.0/8\n");
        AssertError(Parse($"sets:\n  a: {{file: \"{f}\"}}\n", dir.Path), 2, 13, "is outside the rules file's folder");
    }

    [Fact]
    public void ARulesFolderThatDoesNotExistHoldsNoSetFile()
    {
        AssertError(Parse("sets:\n  a: {file: a.txt}\n", "/nonexistent"), 2, 13, "cannot read set file '/nonexistent/a.txt': the rules file's folder '/nonexistent': no such file");
    }

    [Fact]
    public void LoadResolvesSetFilesAgainstTheRulesFilesFolder()
    {
        using var dir = new TempDir();
        dir.Write("feeds/drop.txt", "10.0.0.0/8\n");
        string rules = dir.Write("rules.yaml", Rules);
        var r = RulesLoader.Load(rules);
        Assert.True(r.Ok, string.Join("\n", r.Diagnostics));
        Assert.Equal(Path.Combine(dir.Path, "feeds/drop.txt"), r.Ruleset!.Sets["feed"].File);
    }

    [Fact]
    public void ErrorsPerFileAreCapped()
    {
        using var dir = new TempDir();
        dir.Write("feeds/drop.txt", string.Concat(Enumerable.Repeat("junk\n", 500)));
        var r = Parse(Rules, dir.Path);
        string f = Path.Combine(dir.Path, "feeds/drop.txt");
        Assert.Equal(101, r.Errors.Count());
        AssertError(r, 101, 1, "400 more errors in " + f + " not shown", f);
    }
}
