using Fw.Rules;
using Xunit;
using static Fw.Tests.Rules.RulesTestKit;

namespace Fw.Tests.Rules;

/// <summary>
/// Set files are read only inside the rules file's folder and below, every symlink resolved: a path out of it
/// (../, absolute, or a symlink in the tree pointing out) is an error at the file: value that reads nothing.
/// </summary>
public sealed class SetFileContainmentTests : IDisposable
{
    /// <summary>Lines of a file outside the rules tree: none of them may ever show in a finding.</summary>
    private const string Secret = "root:$6$sEcReTsAlT$hash:19000:0:99999:7:::\ndaemon:*:19000:0:99999:7:::\n";

    // outer/ holds secret.txt (outside) and tree/ (the rules folder) with rules.yaml and feeds/.
    private readonly TempDir _outer = new();

    public void Dispose() => _outer.Dispose();

    private string Tree => Path.Combine(_outer.Path, "tree");

    private string SecretPath => _outer.Write("secret.txt", Secret);

    /// <summary>Loads tree/rules.yaml naming <paramref name="file"/> as set 'x' (the value at 2:13, quoted).</summary>
    private LoadResult Load(string file)
    {
        Directory.CreateDirectory(Path.Combine(Tree, "feeds"));
        string rules = _outer.Write("tree/rules.yaml", $"sets:\n  x: {{file: \"{file}\"}}\nrules:\n  - {{src: \"@x\", action: drop}}\n");
        return RulesLoader.Load(rules);
    }

    private string RulesPath => Path.Combine(Tree, "rules.yaml");

    private void AssertRefusedUnread(LoadResult r, string fragment = "outside the rules file's folder")
    {
        var e = AssertError(r, 2, 13, fragment, RulesPath);
        Assert.Single(r.Errors);
        // Not one line of the outside file in any finding, nor any finding in it.
        Assert.All(r.Diagnostics, d =>
        {
            Assert.DoesNotContain("sEcReT", d.Message);
            Assert.DoesNotContain("daemon", d.Message);
            Assert.Equal(RulesPath, d.Pos.File);
        });
        Assert.True(e.Length > 1);
    }

    [Fact]
    public void DotDotOutOfTheTreeIsRefusedUnread()
    {
        _ = SecretPath;
        AssertRefusedUnread(Load("../secret.txt"));
    }

    [Fact]
    public void EtcShadowIsRefusedUnread()
    {
        var r = Load("../../../../../../../../etc/shadow");
        AssertRefusedUnread(r);
        Assert.All(r.Diagnostics, d => Assert.DoesNotContain("root:", d.Message));
    }

    [Fact]
    public void AbsolutePathOutsideIsRefusedUnread() => AssertRefusedUnread(Load(SecretPath));

    [Fact]
    public void SymlinkInTheTreePointingOutIsRefusedUnread()
    {
        var r0 = Load("feeds/drop.txt");   // makes the tree
        _ = r0;
        File.CreateSymbolicLink(Path.Combine(Tree, "feeds", "drop.txt"), SecretPath);
        AssertRefusedUnread(Load("feeds/drop.txt"));
    }

    [Fact]
    public void SymlinkedFolderPointingOutIsRefusedUnread()
    {
        _ = SecretPath;
        Directory.CreateDirectory(Tree);
        Directory.CreateSymbolicLink(Path.Combine(Tree, "up"), _outer.Path);
        AssertRefusedUnread(Load("up/secret.txt"));
    }

    [Fact]
    public void RelativeSymlinkClimbingOutIsRefusedUnread()
    {
        _ = SecretPath;
        Directory.CreateDirectory(Path.Combine(Tree, "feeds"));
        File.CreateSymbolicLink(Path.Combine(Tree, "feeds", "drop.txt"), "../../secret.txt");
        AssertRefusedUnread(Load("feeds/drop.txt"));
    }

    [Fact]
    public void DeviceOutsideIsRefusedUnread() => AssertRefusedUnread(Load("/dev/zero"));

    [Fact]
    public void FilesInTheTreeAreRead()
    {
        _outer.Write("tree/feeds/drop.txt", "192.0.2.0/24\n");
        var r = Load("feeds/drop.txt");
        Assert.True(r.Ok, string.Join("\n", r.Diagnostics));
        Assert.Single(r.Ruleset!.Sets["x"].Prefixes);
    }

    [Fact]
    public void DotDotThatStaysInTheTreeIsFine()
    {
        _outer.Write("tree/feeds/drop.txt", "192.0.2.0/24\n");
        Directory.CreateDirectory(Path.Combine(Tree, "lists"));
        Assert.True(Load("lists/../feeds/drop.txt").Ok);
    }

    [Fact]
    public void AbsolutePathInsideTheTreeIsFine()
    {
        string feed = _outer.Write("tree/feeds/drop.txt", "192.0.2.0/24\n");
        var r = Load(feed);
        Assert.True(r.Ok, string.Join("\n", r.Diagnostics));
    }

    [Fact]
    public void SymlinkThatStaysInTheTreeIsFollowed()
    {
        _outer.Write("tree/lists/real.txt", "192.0.2.0/24\n198.51.100.0/24\n");
        Directory.CreateDirectory(Path.Combine(Tree, "feeds"));
        File.CreateSymbolicLink(Path.Combine(Tree, "feeds", "drop.txt"), "../lists/real.txt");
        var r = Load("feeds/drop.txt");
        Assert.True(r.Ok, string.Join("\n", r.Diagnostics));
        Assert.Equal(2, r.Ruleset!.Sets["x"].Prefixes.Count);
    }

    [Fact]
    public void TheRulesFolderItselfMayBeReachedThroughASymlink()
    {
        // /etc/fw -> /srv/fw: the tree is the real folder, and its files are inside it.
        _outer.Write("tree/feeds/drop.txt", "192.0.2.0/24\n");
        _ = Load("feeds/drop.txt");
        string link = Path.Combine(_outer.Path, "link");
        Directory.CreateSymbolicLink(link, Tree);
        var r = RulesLoader.Load(Path.Combine(link, "rules.yaml"));
        Assert.True(r.Ok, string.Join("\n", r.Diagnostics));
    }

    [Fact]
    public void AKubernetesConfigMapVolumeIsInside()
    {
        // deploy/k8s: keys are files in /etc/fw, each a link to ..data/KEY, ..data a link to the timestamped folder.
        _outer.Write("tree/..2025_01_01_00_00_00.1/drop.txt", "192.0.2.0/24\n");
        _outer.Write("tree/..2025_01_01_00_00_00.1/rules.yaml", "sets:\n  feed: {file: drop.txt}\nrules:\n  - {src: \"@feed\", action: drop}\n");
        Directory.CreateSymbolicLink(Path.Combine(Tree, "..data"), "..2025_01_01_00_00_00.1");
        File.CreateSymbolicLink(Path.Combine(Tree, "drop.txt"), "..data/drop.txt");
        File.CreateSymbolicLink(RulesPath, "..data/rules.yaml");
        var r = RulesLoader.Load(RulesPath);
        Assert.True(r.Ok, string.Join("\n", r.Diagnostics));
        Assert.Single(r.Ruleset!.Sets["feed"].Prefixes);
    }

    [Fact]
    public void ParseWithABaseFolderKeepsItsFilesInside()
    {
        string secret = SecretPath;
        Directory.CreateDirectory(Path.Combine(Tree, "feeds"));
        var r = Parse("sets:\n  x: {file: ../secret.txt}\n", Tree);
        AssertError(r, 2, 13, "outside the rules file's folder");
        Assert.All(r.Diagnostics, d => Assert.DoesNotContain("sEcReT", d.Message));
        Assert.True(File.Exists(secret));
    }

    /// <summary>Whatever a set file's line holds, a finding quotes a bounded part of it.</summary>
    [Fact]
    public void FindingsQuoteABoundedSnippetOfASetFileLine()
    {
        string longToken = "10.0.0." + new string('9', 100_000);
        string longSpaced = "192.0.2.1 " + new string('x', 100_000);
        _outer.Write("tree/feeds/drop.txt", longToken + "\n" + longSpaced + "\n");
        var r = Load("feeds/drop.txt");
        string feed = Path.Combine(Tree, "feeds", "drop.txt");
        Assert.Equal(2, r.Errors.Count(e => e.Pos.File == feed));
        Assert.All(r.Diagnostics, d => Assert.True(d.Message.Length < 200, $"a {d.Message.Length}-character message"));
        var w = new StringWriter { NewLine = "\n" };
        DiagnosticWriter.Write(w, r);
        Assert.All(w.ToString().Split('\n'), line => Assert.True(line.Length <= 2 * DiagnosticWriter.MaxLineShown, $"a {line.Length}-character line"));
    }
}
