using Fw.Rules;
using Xunit;
using static Fw.Tests.Rules.RulesTestKit;

namespace Fw.Tests.Rules;

/// <summary>
/// YAML tags are refused wherever they stand, with the error at the tag: `action: !!python/str drop` was read
/// as drop, and a tag changes what a value means to other YAML readers of the same file.
/// </summary>
public class YamlTagTests
{
    public static TheoryData<string, string, int, int, string, int> Tagged => new()
    {
        // description, yaml, line, column of the tag, the tag as written, its length on the page
        { "python tag on an action", "rules:\n  - action: !!python/str drop\n", 2, 13, "!!python/str", 12 },
        { "core str tag", "rules:\n  - action: !!str drop\n", 2, 13, "!!str", 5 },
        { "core int tag on a port", "rules:\n  - proto: tcp\n    dport: !!int 22\n    action: pass\n", 3, 12, "!!int", 5 },
        { "non-specific tag", "default: ! drop\n", 1, 10, "!", 1 },
        { "verbatim tag", "default: !<tag:yaml.org,2002:str> drop\n", 1, 10, "!<tag:yaml.org,2002:str>", 24 },
        { "tag on a quoted value", "rules:\n  - action: !!str \"drop\"\n", 2, 13, "!!str", 5 },
        { "tag on the rules list", "rules: !!seq\n  - action: pass\n", 1, 8, "!!seq", 5 },
        { "tag on a rule mapping", "rules:\n  - !!map {action: pass}\n", 2, 5, "!!map", 5 },
        { "tag on a key", "rules:\n  - !!str action: pass\n", 2, 5, "!!str", 5 },
        { "tag in a flow list", "sets:\n  s: [192.0.2.0/24, !!str 198.51.100.0/24]\n", 2, 21, "!!str", 5 },
        { "tag on the top mapping", "--- !!map\nrules: []\n", 1, 5, "!!map", 5 },
        { "custom handle", "%TAG !e! tag:example.com,2000:\n---\ndefault: !e!verdict drop\n", 3, 10, "!e!verdict", 10 },
    };

    [Theory]
    [MemberData(nameof(Tagged))]
    public void EveryTagIsAnErrorAtTheTag(string description, string yaml, int line, int column, string tag, int length)
    {
        _ = description;
        var r = Parse(yaml);
        var e = AssertError(r, line, column, $"YAML tag '{tag}' is not supported");
        Assert.Equal(length, e.Length);
    }

    [Fact]
    public void ATaggedActionIsNotReadAsItsValue()
    {
        var r = Parse("rules:\n  - action: !!python/str drop\n");
        Assert.False(r.Ok);
        Assert.Null(r.Ruleset);
    }

    [Fact]
    public void AnUnquotedBangFlagKeepsItsHint()
    {
        var r = Parse("rules:\n  - proto: tcp\n    tcp_flags: !ack\n    action: pass\n");
        AssertError(r, 3, 16, "YAML tag '!ack' is not supported; to write '!ack' as a value, quote it");
    }

    [Fact]
    public void QuotedBangsAreValuesNotTags()
    {
        var rs = ParseOk("rules:\n  - proto: tcp\n    tcp_flags: \"syn,!ack\"\n    action: pass\n  - {proto: tcp, tcp_flags: '!syn', action: drop}\n");
        Assert.Equal(2, rs.Rules.Count);
    }
}
