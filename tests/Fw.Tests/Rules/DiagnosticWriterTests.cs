using Fw.Rules;
using Xunit;
using static Fw.Tests.Rules.RulesTestKit;

namespace Fw.Tests.Rules;

/// <summary>Findings printed as nft prints them: FILE:LINE:COL: error: message, the line, a ^~~ underline.</summary>
public class DiagnosticWriterTests
{
    private static string Print(Diagnostic d, params string[] lines)
    {
        var w = new StringWriter { NewLine = "\n" };
        DiagnosticWriter.Write(w, d, lines);
        return w.ToString();
    }

    [Fact]
    public void LineAndUnderline()
    {
        var d = new Diagnostic(Severity.Error, new SourcePos("rules.yaml", 2, 13), "unknown action 'dorp'", 4);
        Assert.Equal(
            "rules.yaml:2:13: error: unknown action 'dorp'\n" +
            "  - action: dorp\n" +
            "            ^~~~\n",
            Print(d, "rules:", "  - action: dorp"));
    }

    [Fact]
    public void WarningsAndSingleCharacters()
    {
        var d = new Diagnostic(Severity.Warning, new SourcePos("r.yaml", 1, 1), "default drop blocks ICMPv6 neighbour discovery; IPv6 will break", 7);
        Assert.Equal("r.yaml:1:1: warning: default drop blocks ICMPv6 neighbour discovery; IPv6 will break\ndefault: drop\n^~~~~~~\n",
            Print(d, "default: drop"));
        var one = new Diagnostic(Severity.Error, new SourcePos("r.yaml", 1, 3), "x");
        Assert.Equal("r.yaml:1:3: error: x\nab{\n  ^\n", Print(one, "ab{"));
    }

    [Fact]
    public void TabsAreKeptSoTheCaretLinesUp()
    {
        var d = new Diagnostic(Severity.Error, new SourcePos("f.txt", 1, 3), "bad", 3);
        Assert.Equal("f.txt:1:3: error: bad\n\t 1.2\n\t ^~~\n", Print(d, "\t 1.2"));
    }

    [Fact]
    public void UnderlineStopsAtTheEndOfTheLine()
    {
        var d = new Diagnostic(Severity.Error, new SourcePos("f", 1, 4), "bad", 40);
        Assert.Equal("f:1:4: error: bad\nab cd\n   ^~\n", Print(d, "ab cd"));
    }

    [Fact]
    public void NoSourceLineWithoutLinesOrLength()
    {
        var whole = new Diagnostic(Severity.Error, new SourcePos("f", 1, 1), "empty rules file", 0);
        Assert.Equal("f:1:1: error: empty rules file\n", Print(whole, "# comment"));
        var past = new Diagnostic(Severity.Error, new SourcePos("f", 9, 1), "x", 1);
        Assert.Equal("f:9:1: error: x\n", Print(past, "one line"));
        var w = new StringWriter { NewLine = "\n" };
        DiagnosticWriter.Write(w, past, null);
        Assert.Equal("f:9:1: error: x\n", w.ToString());
    }

    [Fact]
    public void WholeResultFromDisk()
    {
        using var dir = new TempDir();
        dir.Write("feed.txt", "10.0.0.0/8\n  10.0.0.1/8 # oops\n");
        string rules = dir.Write("rules.yaml", "sets:\n  feed: {file: feed.txt}\nrules:\n  - action: dorp\n");
        var r = RulesLoader.Load(rules);
        var w = new StringWriter { NewLine = "\n" };
        DiagnosticWriter.Write(w, r);
        string feed = Path.Combine(dir.Path, "feed.txt");
        Assert.Equal(
            $"{rules}:4:13: error: unknown action 'dorp'\n" +
            "  - action: dorp\n" +
            "            ^~~~\n" +
            $"{feed}:2:3: error: host bits set in '10.0.0.1/8'; did you mean 10.0.0.0/8?\n" +
            "  10.0.0.1/8 # oops\n" +
            "  ^~~~~~~~~~\n",
            w.ToString());
    }

    [Fact]
    public void WholeResultFromMemory()
    {
        const string yaml = "rules:\n  - proto: udp\n    dport: 70000\n    action: pass\n";
        var r = Parse(yaml);
        var w = new StringWriter { NewLine = "\n" };
        DiagnosticWriter.Write(w, r, new Dictionary<string, string> { [RulesFile] = yaml });
        Assert.Equal(
            "rules.yaml:3:12: error: port 70000 is out of range (0-65535)\n" +
            "    dport: 70000\n" +
            "           ^~~~~\n",
            w.ToString());
    }

    [Fact]
    public void UnreadableFileStillPrintsTheHeader()
    {
        var d = new Diagnostic(Severity.Error, new SourcePos("/nonexistent/rules.yaml", 3, 1), "x", 2);
        var w = new StringWriter { NewLine = "\n" };
        DiagnosticWriter.Write(w, [d]);
        Assert.Equal("/nonexistent/rules.yaml:3:1: error: x\n", w.ToString());
    }
}
