using Fw.Bpf;
using Fw.Kernel;
using Fw.Rules;

namespace Fw.Tests.Kernel;

/// <summary>A live set's LPM trie from the control plane: keys both ways, exact entries, the bound, the walk, counters.</summary>
public sealed class LiveSetMapTests
{
    private static IpPrefix P(string s) => PrefixParser.TryParse(s, out IpPrefix p) == PrefixError.None ? p : throw new ArgumentException(s);

    [Theory]
    [InlineData("198.18.0.7/32")]
    [InlineData("198.18.0.0/15")]
    [InlineData("0.0.0.0/0")]
    [InlineData("2001:db8::1/128")]
    [InlineData("2001:db8:ab00::/40")]
    [InlineData("::/0")]
    public void KeysRoundTrip(string prefix)
    {
        var p = P(prefix);
        var k = LiveSetMap.KeyOf(p);
        Assert.Equal((uint)(32 + p.Length), k.PrefixLen);
        Assert.Equal((uint)p.Family, k.Family);
        Assert.Equal(p, LiveSetMap.PrefixOf(k));
    }

    [Fact]
    public void EntriesAreExactBoundedAndWalked()
    {
        using var set = LiveSetMap.Create("t", 3);
        Assert.Equal(3, set.Max);
        ulong now = KernelClock.CoarseNs();
        Assert.True(set.Put(P("198.18.0.0/15"), 0, now));
        Assert.True(set.Put(P("198.18.0.7/32"), now + 5_000_000_000, now));
        Assert.True(set.Put(P("2001:db8::/32"), 0, now));
        Assert.False(set.Put(P("192.0.2.1/32"), 0, now));   // full
        Assert.True(set.Put(P("198.18.0.7/32"), now + 9_000_000_000, now));   // a replace is no new entry
        Assert.True(set.TryGet(P("198.18.0.7/32"), out var e));
        Assert.Equal(now + 9_000_000_000, e.ExpiresNs);
        Assert.False(set.TryGet(P("198.18.0.8/32"), out _));   // covered by the /15, but not an entry of its own
        var all = set.ReadAll().Select(x => x.Prefix.ToString()).Order().ToList();
        Assert.Equal(["198.18.0.0/15", "198.18.0.7/32", "2001:db8::/32"], all);
        Assert.True(set.Remove(P("198.18.0.0/15")));
        Assert.False(set.Remove(P("198.18.0.0/15")));
        Assert.Equal(2, set.ReadAll().Count);
        set.Count(FwSetCounter.Removed, 1);
        set.Count(FwSetCounter.Removed, 2);
        Assert.Equal(3UL, set.Counter(FwSetCounter.Removed));
        Assert.Equal(0UL, set.Counter(FwSetCounter.Added));
    }

    /// <summary>
    /// Entries of one length whose addresses share their first byte are distinct keys of the walk (the default equality
    /// of a key's fixed address buffer compared its first byte only, and the walk ended at the second such key).
    /// </summary>
    [Fact]
    public void TheWalkReadsEntriesThatShareALengthAndAFirstByte()
    {
        using var set = LiveSetMap.Create("t", 100);
        string[] prefixes = ["198.18.1.126/32", "198.19.255.255/32", "198.18.1.64/26", "198.19.0.0/26", "2001:db8::/128", "2001:db8:0:1::ffff/128"];
        foreach (string p in prefixes)
            Assert.True(set.Put(P(p), 0, 1));
        Assert.Equal(prefixes.Select(P).Order(), set.ReadAll().Select(e => e.Prefix).Order());
    }
}
