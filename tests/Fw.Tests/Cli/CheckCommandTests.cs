using System.Text.Json;
using Fw.Cli;

namespace Fw.Tests.Cli;

/// <summary>fwctl check end to end through the command line parser, text and JSON.</summary>
public sealed class CheckCommandTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("fwctl-check-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private (int Exit, string Out, string Err) Run(params string[] args)
    {
        var (o, e) = (new StringWriter(), new StringWriter());
        int rc = FwctlApp.Run(args, o, e);
        return (rc, o.ToString(), e.ToString());
    }

    private string Write(string name, string text)
    {
        string path = Path.Combine(_dir, name);
        File.WriteAllText(path, text);
        return path;
    }

    private static string RepoRules()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "firewall.sln")))
            dir = dir.Parent;
        return Path.Combine(dir!.FullName, "rules", "rules.yaml");
    }

    [Fact]
    public void ExampleRulesetIsValid()
    {
        var (rc, stdout, stderr) = Run("check", RepoRules());
        Assert.Equal(0, rc);
        Assert.Matches(@": ok: \d+ rules, [\d,]+ prefixes, \d+ sets$", stdout.Trim());
        Assert.Equal("", stderr);
    }

    [Fact]
    public void EveryErrorWithPositionAndUnderline()
    {
        string path = Write("bad.yaml", "rules:\n  - proto: tcp\n    dport: 70000\n    action: dorp\n");
        var (rc, stdout, stderr) = Run("check", path);
        Assert.Equal(2, rc);
        Assert.Equal("", stdout);
        Assert.Contains($"{path}:3:12: error: ", stderr);
        Assert.Contains($"{path}:4:13: error: unknown action 'dorp'", stderr);
        Assert.Contains("    action: dorp\n            ^~~~", stderr.ReplaceLineEndings("\n"));
        Assert.Contains("2 errors, nothing loaded", stderr);
    }

    [Fact]
    public void JsonErrorHasErrorKeyAndDiagnostics()
    {
        string path = Write("bad.yaml", "default: maybe\nrules: []\n");
        var (rc, stdout, _) = Run("check", "--json", path);
        Assert.Equal(2, rc);
        using var doc = JsonDocument.Parse(stdout);
        Assert.Contains("1 error", doc.RootElement.GetProperty("error").GetString());
        var d = doc.RootElement.GetProperty("diagnostics")[0];
        Assert.Equal(1, d.GetProperty("line").GetInt32());
        Assert.Equal(10, d.GetProperty("column").GetInt32());
        Assert.Equal("error", d.GetProperty("severity").GetString());
    }

    [Fact]
    public void JsonSummary()
    {
        string path = Write("ok.yaml", "sets:\n  s: [192.0.2.0/24, \"2001:db8::/32\"]\nrules:\n  - src: \"@s\"\n    action: drop\n");
        var (rc, stdout, _) = Run("check", "-j", path);
        Assert.Equal(0, rc);
        using var doc = JsonDocument.Parse(stdout);
        Assert.True(doc.RootElement.GetProperty("valid").GetBoolean());
        Assert.Equal(1, doc.RootElement.GetProperty("rules").GetInt32());
        Assert.Equal(2, doc.RootElement.GetProperty("prefixes").GetInt32());
        Assert.Equal(1, doc.RootElement.GetProperty("sets").GetInt32());
    }

    [Fact]
    public void WarningsKeepExitZero()
    {
        string path = Write("warn.yaml", "rules:\n  - proto: tcp\n    action: drop\n  - proto: tcp\n    dport: 22\n    action: pass\n");
        var (rc, stdout, stderr) = Run("check", path);
        Assert.Equal(0, rc);
        Assert.Contains("1 warning", stdout);
        Assert.Contains($"{path}:4:", stderr);
        Assert.Contains("warning: ", stderr);
    }

    [Fact]
    public void RedirectToMissingInterfaceIsAnError()
    {
        string path = Write("redir.yaml", "rules:\n  - action: redirect\n    to: fwnosuch0\n");
        var (rc, _, stderr) = Run("check", path);
        Assert.Equal(2, rc);
        Assert.Contains("fwnosuch0", stderr);
        Assert.Contains($"{path}:3:", stderr);
    }

    [Fact]
    public void MissingFileAndUsage()
    {
        var (rc, _, stderr) = Run("check", Path.Combine(_dir, "absent.yaml"));
        Assert.Equal(2, rc);
        Assert.Contains("absent.yaml", stderr);
        Assert.Equal(2, Run("check").Exit);
        Assert.Equal(2, Run("frobnicate").Exit);
    }

    // ---- control characters never reach the terminal raw ----

    /// <summary>C0 and C1 controls (ESC, BEL, CR, CSI ...) that a terminal acts on; \n and \t are checked apart.</summary>
    private static void AssertNoControls(string text)
    {
        foreach (string line in text.ReplaceLineEndings("\n").Split('\n'))
        {
            var bad = line.Where(c => char.IsControl(c) && c != '\t').Select(c => $"U+{(int)c:X4}").ToList();
            Assert.True(bad.Count == 0, $"raw {string.Join(", ", bad)} in: {line.Replace("\x1b", "<ESC>")}");
        }
    }

    [Fact]
    public void ControlCharactersInRulesAreShownEscaped()
    {
        // A terminal title escape (OSC 0 ... BEL) in a set file's name, in an action, and in a set file's line.
        File.WriteAllText(Path.Combine(_dir, "feed.txt"), "192.0.2.0/24\n10.0.0.1\x1b]0;owned\x07\n\x9b" + "31m\n");
        string path = Write("esc.yaml",
            "sets:\n  x: {file: \"\\e]0;owned\\a\"}\n  feed: {file: feed.txt}\nrules:\n  - action: \"\\e]0;owned\\a\\r\"\n");
        var (rc, stdout, stderr) = Run("check", path);
        Assert.Equal(2, rc);
        Assert.Equal("", stdout);
        AssertNoControls(stderr);
        Assert.Contains("\\u001B]0;owned\\u0007", stderr);   // shown, not dropped
        Assert.Contains($"{path}:2:13: error: cannot read set file '", stderr);
        Assert.Contains($"{path}:5:13: error: unknown action '\\u001B]0;owned\\u0007\\u000D'", stderr);
        Assert.Contains("\\u009B31m", stderr);
        Assert.Contains("10.0.0.1\\u001B]0;owned\\u0007", stderr);   // the set file's line as echoed
    }

    [Fact]
    public void ControlCharactersInRulesAreEscapedInJsonToo()
    {
        File.WriteAllText(Path.Combine(_dir, "feed.txt"), "10.0.0.1\x1b]0;owned\x07\n");
        string path = Write("esc.yaml", "sets:\n  x: {file: \"\\e]0;owned\\a\"}\n  feed: {file: feed.txt}\n");
        var (rc, stdout, stderr) = Run("check", "--json", path);
        Assert.Equal(2, rc);
        AssertNoControls(stderr);
        using var doc = JsonDocument.Parse(stdout);
        var messages = doc.RootElement.GetProperty("diagnostics").EnumerateArray().Select(d => d.GetProperty("message").GetString()!).ToList();
        Assert.Equal(2, messages.Count);
        Assert.All(messages, AssertNoControls);
        Assert.Contains(messages, m => m.Contains("\\u001B]0;owned\\u0007"));
    }

    [Fact]
    public void ErrorOutputOfEveryCommandIsCleaned()
    {
        const string evil = "pin \x1b]0;owned\x07 gone\r\x9b" + "2J";
        var (o, e) = (new StringWriter(), new StringWriter());
        int rc = Output.Run(json: true, o, e, () => throw new IOException(evil + "\nsecond line\x1b[1m"));
        Assert.Equal(FwctlApp.ExitFailure, rc);
        AssertNoControls(e.ToString());
        Assert.Contains("fwctl: pin \\u001B]0;owned\\u0007 gone\\u000D\\u009B2J\nsecond line\\u001B[1m", e.ToString().ReplaceLineEndings("\n"));
        using (var doc = JsonDocument.Parse(o.ToString()))
            AssertNoControls(doc.RootElement.GetProperty("error").GetString()!);

        (o, e) = (new StringWriter(), new StringWriter());
        rc = Output.Fail(json: true, o, e, FwctlApp.ExitUsage, evil, extra: ["  at \x1b[31mhere"]);
        Assert.Equal(FwctlApp.ExitUsage, rc);
        AssertNoControls(e.ToString());
        Assert.Contains("  at \\u001B[31mhere", e.ToString());
        using (var doc = JsonDocument.Parse(o.ToString()))
            AssertNoControls(doc.RootElement.GetProperty("error").GetString()!);

        AssertNoControls(Output.WithHint(new IOException(evil)));
    }
}
