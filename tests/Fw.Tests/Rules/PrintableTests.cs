using Fw.Rules;
using Xunit;
using static Fw.Tests.Rules.RulesTestKit;

namespace Fw.Tests.Rules;

/// <summary>Text from rules files and errors as it may be printed: characters a terminal acts on are shown, not sent.</summary>
public class PrintableTests
{
    [Theory]
    [InlineData("plain text, café, 日本, 🔥", "plain text, café, 日本, 🔥")]
    [InlineData("\x1b]0;owned\x07", "\\u001B]0;owned\\u0007")]
    [InlineData("a\rb", "a\\u000Db")]
    [InlineData("a\nb\tc", "a\\u000Ab\\u0009c")]
    [InlineData("\x7f\u0085\u009b", "\\u007F\\u0085\\u009B")]
    [InlineData("abc\u202Efed", "abc\\u202Efed")]           // right-to-left override
    [InlineData("x\u2028y", "x\\u2028y")]                   // line separator
    [InlineData("", "")]
    public void CleanShowsEveryControlCharacter(string text, string shown) =>
        Assert.Equal(shown, Printable.Clean(text));

    [Fact]
    public void CleanReturnsCleanTextAsIs()
    {
        const string text = "rules.yaml:2:13: error: unknown action 'dorp'";
        Assert.Same(text, Printable.Clean(text));
    }

    [Fact]
    public void CleanLinesKeepsLineBreaksAndTabs()
    {
        Assert.Equal("one\n\ttwo\\u001B[2J\nthree\\u000D", Printable.CleanLines("one\r\n\ttwo\x1b[2J\nthree\r"));
    }

    [Fact]
    public void DiagnosticsAreCleanWherever(/* they are made */)
    {
        var d = new Diagnostic(Severity.Error, new SourcePos("r\x1b.yaml", 1, 1), "bad \x07 value", 1);
        Assert.Equal("bad \\u0007 value", d.Message);
        Assert.Equal("r\\u001B.yaml:1:1: error: bad \\u0007 value", d.ToString());
        Assert.Equal("x\\u001B", (d with { Message = "x\x1b" }).Message);
    }

    [Fact]
    public void TheEchoedLineShowsControlsAndTheCaretStillPointsAtTheFinding()
    {
        var d = new Diagnostic(Severity.Error, new SourcePos("feed.txt", 1, 4), "bad", 3);
        var w = new StringWriter { NewLine = "\n" };
        DiagnosticWriter.Write(w, d, ["\x1b\t 1.2\x07x"]);
        Assert.Equal("feed.txt:1:4: error: bad\n\\u001B\t 1.2\\u0007x\n      \t ^~~\n", w.ToString());
    }

    [Fact]
    public void ControlsInYamlValuesNeverReachAMessageRaw()
    {
        var r = Parse("rules:\n  - action: \"\\e]0;owned\\a\"\n    name: \"\\u009b2J\"\n");
        Assert.False(r.Ok);
        Assert.All(r.Diagnostics, d => Assert.DoesNotContain(d.Message, c => char.IsControl(c)));
    }
}
