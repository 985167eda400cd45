using System.Text;
using Fw.Rules;
using Xunit;

namespace Fw.Tests.Rules;

/// <summary>
/// A long list read by two YAML parsers at once (YamlListSplit) gives what one parser gives: the same ruleset and the
/// same findings at the same file:line:col, whether the split is taken, left (the worker's part is not a list of
/// one-line scalars) or undone (the main part did not end where the worker's began: the file is read again).
/// </summary>
[Collection(RulesScaleCollection.Name)]
public class YamlListSplitTests
{
    private const int Items = 80_000;   // ~1.4 MB of list: past YamlListSplit.MinChars

    /// <summary>A set of <see cref="Items"/> prefixes inline, item i as <paramref name="item"/> gives it (null: the usual one).</summary>
    private static string Inline(Func<int, string?>? item = null, string indent = "    ", string after = "rules:\n  - name: r\n    src: \"@big\"\n    action: drop\n",
        string newline = "\n")
    {
        var b = new StringBuilder($"default: pass{newline}sets:{newline}  big:{newline}");
        for (int i = 0; i < Items; i++)
            b.Append(indent).Append("- ").Append(item?.Invoke(i) ?? Usual(i)).Append(newline);
        return b.Append(after.Replace("\n", newline)).ToString();
    }

    private static string Usual(int i) => $"10.{i >> 16 & 255}.{i >> 8 & 255}.{i & 255}/32";

    /// <summary>Reads <paramref name="yaml"/> both ways and asserts the same result; returns whether the split read spliced.</summary>
    private static bool Same(string yaml)
    {
        int before = YamlListSplit.Splices;
        var split = RulesLoader.Parse(yaml, "rules.yaml", ".", splitLists: true);
        bool spliced = YamlListSplit.Splices != before;
        var plain = RulesLoader.Parse(yaml, "rules.yaml", ".", splitLists: false);
        Assert.Equal(Describe(plain), Describe(split));
        return spliced;
    }

    private static string Describe(LoadResult r)
    {
        var b = new StringBuilder();
        foreach (var d in r.Diagnostics)
            b.Append($"{d.Severity} {d.Pos} {d.Message} len {d.Length} src {d.Source}\n");
        if (r.Ruleset is { } rs)
        {
            foreach (var (name, set) in rs.Sets)
                b.Append($"set {name} at {set.Pos}: {string.Join(",", set.Prefixes)}\n");
            foreach (var rule in rs.Rules)
                b.Append($"rule {rule.Name} at {rule.Pos}: src {string.Join(",", rule.Src?.Prefixes ?? [])} {string.Join(",", rule.KeyPos)}\n");
        }
        return b.ToString();
    }

    [Fact]
    public void ACleanListIsSplitAndReadAsOneParserReadsIt() => Assert.True(Same(Inline()));

    [Fact]
    public void FindingsInBothPartsAndAfterTheListStandWhereThePlainReadPutsThem()
    {
        string yaml = Inline(i => i switch
        {
            10 => "10.0.0.1/8",                    // host bits, first part
            70_000 => "10.0.0.300",                // bad address, second part
            70_001 => "\"::ffff:10.0.0.1\"",       // a warning (IPv4-mapped), quoted
            70_002 => "'10.1.2.3'",
            70_003 => "\"10.1.\\x32.4\"",          // an escape: the value is not the text between the quotes
            70_004 => "\"\"",                      // an empty element
            _ => null,
        }, after: "rules:\n  - name: r\n    src: \"@big\"\n    action: dorp\n  - name: r\n    action: drop\n");
        Assert.True(Same(yaml));
        var r = RulesLoader.Parse(yaml, "rules.yaml", ".");
        Assert.Contains(r.Diagnostics, d => d.Pos.Line == 4 + 70_000 && d.Message.Contains("10.0.0.300"));
        Assert.Contains(r.Diagnostics, d => d.Pos.Line == 4 + Items + 3 && d.Message.Contains("dorp"));
    }

    [Fact]
    public void AWorkerPartThatIsNotOneLineScalarsIsReadByTheMainParser()
    {
        Assert.False(Same(Inline(i => i == 70_000 ? "!!str 10.0.0.1" : null)));     // a tag
        Assert.False(Same(Inline(i => i == 70_000 ? "&a 10.0.0.1" : null)));        // an anchor
        Assert.False(Same(Inline(i => i == 70_000 ? "{a: b}" : null)));              // a mapping
        Assert.False(Same(Inline(i => i == 70_000 ? "\"10.0.0.1\n      \"" : null)));   // a scalar over two lines
        Assert.False(Same(Inline(i => i == 70_000 ? "[10.0.0.1" : null)));           // a YAML error
    }

    [Fact]
    public void AMainPartThatIsNotOneLineScalarsIsReadAsIs()
    {
        Same(Inline(i => i == 5 ? "{a: b}" : null));
        Same(Inline(i => i == 5 ? "*alias" : null));
        Same(Inline(i => i == 5 ? "\"10.0.0.1\n      \"" : null));
    }

    [Fact]
    public void WhatFollowsTheListIsReadWhereItStands()
    {
        Assert.True(Same(Inline(after: "# the rules\n\n  # more\nrules:\n  - name: r\n    src: \"@big\"\n    action: drop\n")));
        Same(Inline(after: ""));                                             // the list ends the file
        Same(Inline(after: "rules: [\n"));                                   // a YAML error after the list (read again unsplit)
        Same(Inline(after: "  other: [10.0.0.1]\nrules:\n  - {src: \"@other\", action: drop}\n"));
        Same(Inline(indent: "  "));                                          // a list at its key's indentation
        Same(Inline(newline: "\r\n"));
    }

    [Fact]
    public void AListInARuleIsSplitToo()
    {
        var b = new StringBuilder("rules:\n  - name: big\n    src:\n");
        for (int i = 0; i < Items; i++)
            b.Append("      - ").Append(Usual(i)).Append('\n');
        b.Append("    action: drop\n  - name: r2\n    src: 10.0.0.0/8\n    proto: tcp\n    dport: 99999\n    action: drop\n");
        Assert.True(Same(b.ToString()));
    }
}
