using Fw.Rules;
using Xunit;
using static Fw.Tests.Rules.RulesTestKit;

namespace Fw.Tests.Rules;

[CollectionDefinition(Name, DisableParallelization = true)]
public class RulesScaleCollection
{
    public const string Name = "rules scale";
}

/// <summary>
/// The heavy tests: a million-line set file, the prefix bound, 4,096 rules. They run alone (not beside
/// other test classes) so their time bounds measure this code, not a busy machine.
/// </summary>
[Collection(RulesScaleCollection.Name)]
public class RulesScaleTests
{
    public const int Max = 1_048_576;

    private const string FeedRules = "sets:\n  feed: {file: feeds/drop.txt}\nrules:\n  - {src: \"@feed\", action: drop}\n";

    [Fact]
    public void CrossingThePrefixBoundNamesWhere()
    {
        using var dir = new TempDir();
        RulesLoaderTests.WriteV4Lines(Path.Combine(dir.Path, "big.txt"), Max - 1);
        var r = Parse("""
            sets:
              big: {file: big.txt}
            rules:
              - src: [10.0.0.0/8, 172.16.0.0/12]
                action: drop
            """, dir.Path);
        var e = AssertError(r, 4, 23, "ruleset exceeds 1048576 prefixes (sets and rules together)");
        Assert.Single(r.Errors);
        Assert.Equal("172.16.0.0/12".Length, e.Length);
    }

    [Fact]
    public void CrossingInsideASetFileIsReportedThere()
    {
        using var dir = new TempDir();
        RulesLoaderTests.WriteV4Lines(Path.Combine(dir.Path, "big.txt"), Max);
        var r = Parse("""
            sets:
              small: [10.0.0.0/8]
              big: {file: big.txt}
            """, dir.Path);
        string file = Path.Combine(dir.Path, "big.txt");
        AssertError(r, Max, 1, "ruleset exceeds 1048576 prefixes", file);
    }

    [Fact]
    public void ExactlyTheBoundOfPrefixesIsAccepted()
    {
        using var dir = new TempDir();
        RulesLoaderTests.WriteV4Lines(Path.Combine(dir.Path, "big.txt"), Max - 1);
        var ok = Parse("sets:\n  big: {file: big.txt}\nrules:\n  - {src: 10.0.0.0/8, action: drop}\n", dir.Path);
        Assert.True(ok.Ok, string.Join("\n", ok.Errors));
        Assert.Equal(Max, ok.Ruleset!.PrefixCount);
    }

    [Fact]
    public void AMillionLinesParseQuickly()
    {
        using var dir = new TempDir();
        string f = Path.Combine(dir.Path, "feeds", "drop.txt");
        Directory.CreateDirectory(Path.GetDirectoryName(f)!);
        using (var w = new StreamWriter(f, false, new System.Text.UTF8Encoding(false), 1 << 20))
        {
            w.Write("# a million entries: IPv4 /32s, IPv6 /64s and /24s, with comments\n");
            for (int i = 0; i < 1_000_000; i++)
            {
                switch (i % 4)
                {
                    case 0:
                        w.Write($"10.{(i >> 16) & 255}.{(i >> 8) & 255}.{i & 255}\n");
                        break;
                    case 1:
                        w.Write($"2001:db8:{(i >> 16) & 0xffff:x}:{i & 0xffff:x}::/64\n");
                        break;
                    case 2:
                        w.Write($"{(i >> 16) & 127 | 128}.{(i >> 8) & 255}.{i & 255}.0/24   # entry {i}\n");
                        break;
                    default:
                        w.Write($"  2001:db8:ffff:{i & 0xffff:x}:{(i >> 16) & 0xffff:x}:0:0:1\n");
                        break;
                }
            }
        }
        var r = Parse(FeedRules, dir.Path);
        Assert.True(r.Ok, string.Join("\n", r.Errors.Take(5)));
        Assert.Equal(1_000_000, r.Ruleset!.Sets["feed"].Prefixes.Count);
        Assert.Equal(1_000_000, r.Ruleset.PrefixCount);
    }

    [Fact]
    public void ManyRulesAreAnalysed()
    {
        var yaml = new System.Text.StringBuilder("rules:\n");
        for (int i = 0; i < 4096; i++)
            yaml.Append($"  - {{src: 10.{i >> 8}.{i & 255}.0/24, proto: tcp, dport: {i + 1}, action: drop}}\n");
        var r = Parse(yaml.ToString());
        Assert.True(r.Ok);
        Assert.Empty(r.Warnings);
    }
}
