using System.Net;
using Fw.Compiler;
using Fw.Rules;

namespace Fw.Tests.Compiler;

/// <summary>The compiler without the kernel: rules in, map image out.</summary>
public class CompilerTests
{
    private static readonly SourcePos At = new("t.yaml", 1, 1);

    private static IpPrefix P(string s)
    {
        var parts = s.Split('/');
        var a = IpPrefix.FromAddress(IPAddress.Parse(parts[0]));
        return parts.Length == 1 ? a : IpPrefix.Create(a.Family, a.Bits, int.Parse(parts[1]));
    }

    private static AddressMatch Addr(params string[] prefixes) => new() { Prefixes = prefixes.Select(P).ToList(), Sets = [] };

    private static Rule R(int i, RuleAction action = RuleAction.Drop, AddressMatch? src = null, AddressMatch? dst = null,
        byte[]? proto = null, PortRange[]? dport = null, TcpFlagsMatch? flags = null, byte[]? icmp = null) => new()
        {
            Index = i, Name = $"rule-{i + 1}", Pos = At, Action = action, Src = src, Dst = dst,
            Proto = proto, Dport = dport, TcpFlags = flags, IcmpType = icmp,
        };

    private static Ruleset Rs(params Rule[] rules) => new() { File = "t.yaml", Rules = rules };

    private static bool Allows(MapImage img, uint cls, int rule) => (img.Bitmap(cls)[1 + rule / 64] >> (rule % 64) & 1) != 0;

    /// <summary>The class an address gets: the lookup the XDP program does in the field's Poptrie.</summary>
    private static uint Lookup<TTail>(Poptrie<TTail> trie, string address)
        where TTail : unmanaged, IPopTail<TTail> => trie.Lookup(P(address).Bits);

    [Fact]
    public void NoRulesNeedsNoTables()
    {
        var img = RulesetCompiler.Compile(new Ruleset { File = "t.yaml", Default = RuleAction.Drop });
        Assert.Equal(0, img.Words);
        Assert.Equal(FieldMask.None, img.Fields);
        Assert.Equal(RuleAction.Drop, img.Default);
        Assert.Null(img.Src4);
    }

    [Fact]
    public void SameRulesSameImage()
    {
        Ruleset Make() => Rs(R(0, src: Addr("198.18.0.0/16", "2001:db8::/32"), proto: [6], dport: [new(22, 22)]),
            R(1, dst: Addr("192.0.2.0/24"), proto: [17]));
        Assert.Equal(RulesetCompiler.Compile(Make()).Digest(), RulesetCompiler.Compile(Make()).Digest());
        var other = Rs(R(0, src: Addr("198.18.0.0/16", "2001:db8::/32"), proto: [6], dport: [new(22, 23)]),
            R(1, dst: Addr("192.0.2.0/24"), proto: [17]));
        Assert.NotEqual(RulesetCompiler.Compile(Make()).Digest(), RulesetCompiler.Compile(other).Digest());
    }

    [Fact]
    public void PortRangeEndpointsAreExact()
    {
        var img = RulesetCompiler.Compile(Rs(R(0, proto: [6], dport: [new(1000, 2000), new(22, 22)]), R(1)));
        Assert.True(img.Fields.HasFlag(FieldMask.Dport));
        var d = img.Dport!;
        foreach (int p in new[] { 22, 1000, 1500, 2000 })
            Assert.True(Allows(img, d[p], 0), $"port {p}");
        foreach (int p in new[] { 0, 21, 23, 999, 2001, 65535 })
            Assert.False(Allows(img, d[p], 0), $"port {p}");
        // Rule 1 has no dport: every value and the absent slot allow it; rule 0 is not allowed without ports.
        Assert.All(new[] { 0, 22, 65535, FwLimits.PortAbsent }, p => Assert.True(Allows(img, d[p], 1)));
        Assert.False(Allows(img, d[FwLimits.PortAbsent], 0));
    }

    [Fact]
    public void NestedPrefixesInheritTheirAncestorsRules()
    {
        var img = RulesetCompiler.Compile(Rs(
            R(0, src: Addr("198.18.5.0/24")),
            R(1, src: Addr("198.18.0.0/16")),
            R(2, src: Addr("198.18.5.128/25")),
            R(3)));
        var t = img.Src4!;
        uint inner = Lookup(t, "198.18.5.200");
        Assert.True(Allows(img, inner, 0) && Allows(img, inner, 1) && Allows(img, inner, 2) && Allows(img, inner, 3));
        uint mid = Lookup(t, "198.18.5.1");
        Assert.True(Allows(img, mid, 0) && Allows(img, mid, 1) && !Allows(img, mid, 2));
        uint outer = Lookup(t, "198.18.6.1");
        Assert.True(!Allows(img, outer, 0) && Allows(img, outer, 1) && Allows(img, outer, 3));
        uint none = Lookup(t, "192.0.2.1");
        Assert.True(!Allows(img, none, 0) && !Allows(img, none, 1) && Allows(img, none, 3));
    }

    [Fact]
    public void AnAddressFieldMatchesOnlyItsFamilies()
    {
        var img = RulesetCompiler.Compile(Rs(R(0, src: Addr("198.18.0.0/15")), R(1, src: Addr("2001:db8::/32")), R(2)));
        uint v6 = Lookup(img.Src6!, "2001:db8::1");
        Assert.False(Allows(img, v6, 0));
        Assert.True(Allows(img, v6, 1) && Allows(img, v6, 2));
        uint v4 = Lookup(img.Src4!, "198.18.0.1");
        Assert.True(Allows(img, v4, 0) && !Allows(img, v4, 1) && Allows(img, v4, 2));
        uint v6Root = Lookup(img.Src6!, "2001:db9::1");
        Assert.True(!Allows(img, v6Root, 0) && !Allows(img, v6Root, 1) && Allows(img, v6Root, 2));
    }

    [Fact]
    public void RedundantPrefixesAreLeftOutOfTheTrie()
    {
        // 198.18.5.0/24 adds nothing to 198.18.0.0/16 for the same rule: same class, no entry.
        var img = RulesetCompiler.Compile(Rs(R(0, src: Addr("198.18.0.0/16", "198.18.5.0/24"))));
        Assert.Equal(2, img.Src4!.Prefixes);
        Assert.Equal(1, img.Src6!.Prefixes);
    }

    [Fact]
    public void SharedSetIsWalkedOnceForAllItsRules()
    {
        var set = new PrefixSet
        {
            Name = "big", Pos = At,
            Prefixes = Enumerable.Range(0, 50_000).Select(i => IpPrefix.Create(IpFamily.V4, (UInt128)(0xC6120000u + ((uint)i << 2)) << 96, 30)).ToList(),
        };
        var m = new AddressMatch { Prefixes = [], Sets = [set] };
        var img = RulesetCompiler.Compile(Rs(R(0, src: m, proto: [6]), R(1, src: m, proto: [17]), R(2)));
        Assert.Equal(50_001, img.Src4!.Prefixes);
        uint c = Lookup(img.Src4, "198.18.0.5");
        Assert.True(Allows(img, c, 0) && Allows(img, c, 1) && Allows(img, c, 2));
        Assert.True(img.ClassCount < 20);
    }

    /// <summary>
    /// Thousands of prefixes of both families, nested and repeated within and across rules and a shared set (so
    /// the compiler's sorts take every path: radix for IPv4, quicksort and insertion sort for IPv6): every
    /// address gets, by longest match in the image, exactly the rules whose prefixes contain it.
    /// </summary>
    [Fact]
    public void ManyNestedAndRepeatedPrefixesMatchAsTheRulesSay()
    {
        var rng = new Random(5);
        IpPrefix Random4()
        {
            // Inside 198.18.0.0/15 and 2001:db8::/32 (as addresses drawn from them stay), short enough to nest often.
            int len = rng.Next(15, 33);
            uint a = 0xC6120000u | (uint)rng.Next(1 << 17);
            return IpPrefix.Create(IpFamily.V4, (UInt128)a << 96, len);
        }
        IpPrefix Random6()
        {
            int len = rng.Next(32, 129);
            UInt128 a = (UInt128)0x20010db8UL << 96 | (UInt128)(ulong)rng.Next(1 << 12) << 80 | (ulong)rng.NextInt64();
            return IpPrefix.Create(IpFamily.V6, a, len);
        }
        IpPrefix Random() => rng.Next(3) == 0 ? Random6() : Random4();
        var pool = Enumerable.Range(0, 3000).Select(_ => Random()).ToList();
        var set = new PrefixSet { Name = "s", Pos = At, Prefixes = Enumerable.Range(0, 4000).Select(_ => pool[rng.Next(pool.Count)]).ToList() };
        AddressMatch Match(bool withSet) => new()
        {
            Prefixes = Enumerable.Range(0, 1500).Select(_ => pool[rng.Next(pool.Count)]).ToList(),
            Sets = withSet ? [set] : [],
        };
        var rules = new[] { R(0, src: Match(true)), R(1, src: Match(false)), R(2, src: Match(true), proto: [6]), R(3) };
        var img = RulesetCompiler.Compile(Rs(rules));

        for (int n = 0; n < 3000; n++)
        {
            // An address inside a pool prefix (or anywhere), so most addresses meet several nested prefixes.
            var near = pool[rng.Next(pool.Count)];
            UInt128 noise = (UInt128)(ulong)rng.NextInt64() << 64 | (ulong)rng.NextInt64();
            var family = near.Family;
            var bits = (near.Bits | (noise & ~IpPrefix.MaskOf(near.Length))) & IpPrefix.MaskOf(family == IpFamily.V4 ? 32 : 128);
            uint cls = family == IpFamily.V4 ? img.Src4!.Lookup(bits) : img.Src6!.Lookup(bits);
            var address = new IpPrefix(family, bits, (byte)(family == IpFamily.V4 ? 32 : 128));
            for (int r = 0; r < rules.Length; r++)
            {
                bool expected = rules[r].Src is not { } m || m.AllPrefixes().Any(p => p.Contains(address));
                Assert.True(expected == Allows(img, cls, r), $"{address}: rule {r} expected {expected}");
            }
        }
    }

    [Fact]
    public void TcpFlagsMaskAndValue()
    {
        var img = RulesetCompiler.Compile(Rs(R(0, proto: [6], flags: new TcpFlagsMatch(TcpFlagsMatch.Syn | TcpFlagsMatch.Ack, TcpFlagsMatch.Syn))));
        var f = img.TcpFlags!;
        Assert.True(Allows(img, f[TcpFlagsMatch.Syn], 0));
        Assert.True(Allows(img, f[TcpFlagsMatch.Syn | TcpFlagsMatch.Fin | TcpFlagsMatch.Psh], 0));
        Assert.False(Allows(img, f[TcpFlagsMatch.Syn | TcpFlagsMatch.Ack], 0));
        Assert.False(Allows(img, f[0], 0));
        Assert.False(Allows(img, f[FwLimits.ByteAbsent], 0));
    }

    [Fact]
    public void IdenticalVectorsShareOneClass()
    {
        var img = RulesetCompiler.Compile(Rs(R(0, proto: [6]), R(1, proto: [6])));
        Assert.Equal(img.Proto![6], img.Proto[6]);
        Assert.Equal(img.Proto[17], img.Proto[1]);
        Assert.Equal(2, img.ClassCount);
        var row = img.Bitmap(img.Proto[17]);
        Assert.Equal(0UL, row[0]);   // summary of the empty vector
        Assert.Equal(1UL, img.Bitmap(img.Proto[6])[0]);
    }

    [Fact]
    public void MoreThan4096RulesIsABoundError()
    {
        var rules = Enumerable.Range(0, FwLimits.MaxRules + 1).Select(i => R(i)).ToArray();
        var e = Assert.Throws<RulesException>(() => RulesetCompiler.Compile(Rs(rules)));
        Assert.Contains("4096 rules", e.Diagnostics[0].Message);
        var ok = RulesetCompiler.Compile(Rs(rules[..FwLimits.MaxRules]));
        Assert.Equal(FwLimits.MaxWords, ok.Words);
    }
}
