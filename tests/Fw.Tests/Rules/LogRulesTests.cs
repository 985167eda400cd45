using Fw.Compiler;
using Fw.Rules;
using static Fw.Tests.Rules.RulesTestKit;

namespace Fw.Tests.Rules;

/// <summary>Issue 14's contract in the rules file: `log:` (rate, snaplen, default, malformed, non_ip), a rule's `log`, errors at file:line:col.</summary>
public class LogRulesTests
{
    private static string Y(params string[] lines) => string.Join("\n", lines) + "\n";

    [Fact]
    public void SettingsAndRuleLogsAreRead()
    {
        var rs = ParseOk(Y(
            "log:",
            "  rate: 500",
            "  snaplen: 64",
            "  default: \"1/100\"",
            "  malformed: true",
            "  non_ip: false",
            "rules:",
            "  - name: a",
            "    proto: tcp",
            "    action: drop",
            "    log: true",
            "  - name: b",
            "    proto: udp",
            "    action: pass",
            "    log: 1/7",
            "  - name: c",
            "    action: pass",
            "    log: false"));
        Assert.Equal((500, 64, 100u, 1u, (uint?)null), (rs.Log.Rate, rs.Log.Snaplen, rs.Log.DefaultEvery, rs.Log.MalformedEvery, rs.Log.NonIpEvery));
        Assert.Equal([1u, 7u, null], rs.Rules.Select(r => r.LogEvery));
        Assert.True(rs.UsesLog);
        var image = RulesetCompiler.Compile(rs);
        Assert.Equal([1u, 7u, 0u], image.Rules.Select(r => r.LogEvery));
        Assert.NotNull(image.Log);
    }

    [Fact]
    public void NothingLoggedMeansNoLogAndTheSameDigest()
    {
        var plain = RulesetCompiler.Compile(ParseOk(Y("rules:", "  - proto: tcp", "    action: drop")));
        var unused = RulesetCompiler.Compile(ParseOk(Y("log:", "  rate: 10", "rules:", "  - proto: tcp", "    action: drop", "    log: false")));
        Assert.Null(plain.Log);
        Assert.Null(unused.Log);   // settings alone log nothing: no log code, no ring
        Assert.Equal(plain.Digest(), unused.Digest());
        var logged = RulesetCompiler.Compile(ParseOk(Y("rules:", "  - proto: tcp", "    action: drop", "    log: true")));
        Assert.NotEqual(plain.Digest(), logged.Digest());
        var sampled = RulesetCompiler.Compile(ParseOk(Y("rules:", "  - proto: tcp", "    action: drop", "    log: 1/2")));
        Assert.NotEqual(logged.Digest(), sampled.Digest());
    }

    [Theory]
    [InlineData("log:\n  rate: 0\n", 2, 9, "rate 0 is out of range")]
    [InlineData("log:\n  rate: 2000000\n", 2, 9, "out of range")]
    [InlineData("log:\n  snaplen: 63\n", 2, 12, "snaplen 63 is out of range (64-256)")]
    [InlineData("log:\n  snaplen: 257\n", 2, 12, "out of range (64-256)")]
    [InlineData("log:\n  default: sometimes\n", 2, 12, "bad default 'sometimes'")]
    [InlineData("log:\n  default: \"1/0\"\n", 2, 12, "N is out of range")]
    [InlineData("log:\n  malformed: \"2/3\"\n", 2, 14, "bad malformed")]
    [InlineData("log:\n  everything: true\n", 2, 3, "everything")]
    [InlineData("log: [1]\n", 1, 6, "'log'")]
    [InlineData("rules:\n  - action: drop\n    log: yes\n", 3, 10, "bad log 'yes'")]
    [InlineData("rules:\n  - action: drop\n    log: 1/2000000\n", 3, 10, "N is out of range")]
    public void BadValuesAreErrorsAtTheirPlace(string yaml, int line, int column, string fragment)
    {
        if (!yaml.Contains("rules:"))
            yaml += "rules:\n  - action: pass\n";
        AssertError(Parse(yaml), line, column, fragment);
    }
}
