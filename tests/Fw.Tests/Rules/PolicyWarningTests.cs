using Fw.Rules;
using Xunit;
using static Fw.Tests.Rules.RulesTestKit;

namespace Fw.Tests.Rules;

/// <summary>
/// Warnings about settings that do not do what they seem to: malformed: pass under default: drop, and
/// IPv4-mapped IPv6 prefixes (never matched by an IPv4 frame). Warnings never stop a load.
/// </summary>
public class PolicyWarningTests
{
    [Fact]
    public void MalformedPassUnderDefaultDropIsWarnedAtMalformed()
    {
        var r = Parse("default: drop\nmalformed: pass\nrules:\n  - {proto: icmpv6, action: pass}\n  - {state: established, action: pass}\n");
        Assert.True(r.Ok, string.Join("\n", r.Diagnostics));
        var w = AssertWarning(r, 2, 1, "malformed: pass with default: drop");
        Assert.Contains("bypass every rule", w.Message);
        Assert.Equal("malformed".Length, w.Length);
        Assert.Single(r.Warnings);
    }

    [Fact]
    public void MalformedPassWarnedInEitherKeyOrder()
    {
        var r = Parse("malformed: PASS\nrules: []\ndefault: drop\n");
        Assert.True(r.Ok);
        AssertWarning(r, 1, 1, "malformed: pass with default: drop");
    }

    [Theory]
    [InlineData("default: pass\nmalformed: pass\n")]
    [InlineData("default: drop\nmalformed: drop\n")]
    [InlineData("default: drop\n")]
    public void NoMalformedWarningOtherwise(string head)
    {
        var r = Parse(head + "rules:\n  - {proto: icmpv6, action: pass}\n");
        Assert.True(r.Ok);
        Assert.DoesNotContain(r.Warnings, w => w.Message.Contains("malformed"));
    }

    public static TheoryData<string, string> Mapped => new()
    {
        // the prefix as written, the IPv4 form suggested
        { "::ffff:10.0.0.1", "10.0.0.1" },
        { "::ffff:10.0.0.0/104", "10.0.0.0/8" },
        { "::FFFF:c000:0201", "192.0.2.1" },
        { "0:0:0:0:0:ffff:192.0.2.0/120", "192.0.2.0/24" },
        { "::ffff:0:0/96", "0.0.0.0/0" },
    };

    [Theory]
    [MemberData(nameof(Mapped))]
    public void MappedPrefixInARuleIsWarnedAtTheValue(string prefix, string ipv4)
    {
        var r = Parse($"rules:\n  - src: \"{prefix}\"\n    action: drop\n");
        Assert.True(r.Ok, string.Join("\n", r.Diagnostics));
        var w = AssertWarning(r, 2, 10, $"'{prefix}' is an IPv4-mapped IPv6");
        Assert.Contains("never matches an IPv4 frame", w.Message);
        Assert.Contains($"write {ipv4}", w.Message);
        Assert.Equal(prefix.Length + 2, w.Length);
    }

    [Fact]
    public void MappedPrefixInAnInlineSetIsWarnedAtTheElement()
    {
        var r = Parse("sets:\n  s: [192.0.2.0/24, \"::ffff:198.51.100.7\"]\nrules:\n  - {dst: \"@s\", action: drop}\n");
        Assert.True(r.Ok);
        AssertWarning(r, 2, 21, "'::ffff:198.51.100.7' is an IPv4-mapped IPv6 address");
        Assert.Single(r.Warnings);
    }

    [Fact]
    public void MappedPrefixInASetFileIsWarnedAtItsLine()
    {
        using var dir = new TempDir();
        dir.Write("feed.txt", "192.0.2.0/24\n  ::ffff:203.0.113.0/120  # mapped\n");
        var r = Parse("sets:\n  feed: {file: feed.txt}\nrules:\n  - {src: \"@feed\", action: drop}\n", dir.Path);
        Assert.True(r.Ok);
        var w = Assert.Single(r.Warnings);
        Assert.Equal(new SourcePos(Path.Combine(dir.Path, "feed.txt"), 2, 3), w.Pos);
        Assert.Contains("write 203.0.113.0/24", w.Message);
        Assert.Equal("::ffff:203.0.113.0/120".Length, w.Length);
    }

    [Fact]
    public void MappedWarningsInALargeFeedAreCapped()
    {
        using var dir = new TempDir();
        dir.Write("feed.txt", string.Concat(Enumerable.Range(0, 5000).Select(i => $"::ffff:10.{i >> 8}.{i & 255}.0/120\n")));
        var r = Parse("sets:\n  feed: {file: feed.txt}\n", dir.Path);
        Assert.True(r.Ok);
        Assert.True(r.Warnings.Count() <= 101, $"{r.Warnings.Count()} warnings");
        Assert.Contains(r.Warnings, w => w.Message.Contains("4900 more warnings in"));
    }

    [Theory]
    [InlineData("::/0")]
    [InlineData("::fffe:0:0/95")]
    [InlineData("64:ff9b::192.0.2.1")]
    [InlineData("::192.0.2.1")]
    [InlineData("2001:db8::ffff:10.0.0.1")]
    [InlineData("10.0.0.1")]
    public void OtherPrefixesAreNotWarned(string prefix)
    {
        var r = Parse($"rules:\n  - src: \"{prefix}\"\n    action: drop\n");
        Assert.True(r.Ok);
        Assert.DoesNotContain(r.Warnings, w => w.Message.Contains("IPv4-mapped"));
    }
}
