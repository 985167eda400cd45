using System.Runtime.InteropServices;
using Fw.Compiler;
using Fw.Rules;

namespace Fw.Tests.Compiler;

/// <summary>
/// The Poptrie builder without the kernel: for random prefix sets its lookup (the C# twin of
/// bpf/fw_poptrie.h) equals a plain longest-prefix match, up to a million prefixes; same entries in,
/// same bytes out; and a trie past the data plane's bounds is a clear error.
/// </summary>
public class PoptrieTests
{
    /// <summary>
    /// count random (prefix, class) entries and the /0, sorted and distinct: nested chains, neighbours
    /// sharing long runs of leading bits, and every length.
    /// </summary>
    private static LpmEntry[] RandomEntries(int seed, int width, int count, int classes = 64)
    {
        var rng = new Random(seed);
        var list = new List<LpmEntry>(count + 1) { new(UInt128.Zero, 0, (uint)rng.Next(classes)) };
        LpmEntry[] sorted = [];
        while (sorted.Length < count + 1)
        {
            for (int k = (count + 1 - sorted.Length) * 5 / 4 + 16; k > 0; k--)
            {
                int len, pick = rng.Next(4);
                UInt128 bits;
                if (pick == 0 || list.Count == 1)
                {
                    // Anywhere, any length.
                    len = rng.Next(1, width + 1);
                    bits = Random128(rng);
                }
                else
                {
                    var near = list[rng.Next(1, list.Count)];
                    if (pick == 1 && near.Length < width)
                    {
                        // Inside an earlier prefix: nesting.
                        len = Math.Min(width, near.Length + rng.Next(1, 13));
                        bits = near.Bits | (Random128(rng) & ~PoptrieBuilder.Mask(near.Length));
                    }
                    else
                    {
                        // Beside it: one of its last 8 bits flipped, sharing a long run of leading bits.
                        len = near.Length;
                        bits = near.Bits ^ (UInt128.One << (128 - len + rng.Next(Math.Min(8, len))));
                    }
                }
                list.Add(new LpmEntry(PoptrieBuilder.Truncate(bits, len), (byte)len, (uint)rng.Next(classes)));
            }
            // Repeats are neighbours once sorted: keep the first of each.
            sorted = Sorted(list);
            int n = 0;
            for (int i = 0; i < sorted.Length; i++)
            {
                if (n == 0 || sorted[i].Bits != sorted[n - 1].Bits || sorted[i].Length != sorted[n - 1].Length)
                    sorted[n++] = sorted[i];
            }
            sorted = sorted[..n];
            list = [.. sorted];
        }
        // Down to count: drop random entries but the /0 (dropping keeps the order).
        var drop = new bool[sorted.Length];
        for (int extra = sorted.Length - 1 - count; extra > 0;)
        {
            int i = rng.Next(1, sorted.Length);
            if (!drop[i])
            {
                drop[i] = true;
                extra--;
            }
        }
        return sorted.Where((_, i) => !drop[i]).ToArray();
    }

    /// <summary>By address, then length: sorted on the top 64 address bits, then each run of equal ones.</summary>
    private static LpmEntry[] Sorted(IEnumerable<LpmEntry> entries)
    {
        var a = entries.ToArray();
        var keys = a.Select(e => (ulong)(e.Bits >> 64)).ToArray();
        Array.Sort(keys, a);
        var rest = Comparer<LpmEntry>.Create((x, y) => x.Bits != y.Bits ? x.Bits.CompareTo(y.Bits) : x.Length.CompareTo(y.Length));
        for (int i = 0; i < a.Length;)
        {
            int j = i + 1;
            while (j < a.Length && keys[j] == keys[i])
                j++;
            if (j - i > 1)
                Array.Sort(a, i, j - i, rest);
            i = j;
        }
        return a;
    }

    private static UInt128 Random128(Random rng) => new((ulong)rng.NextInt64() ^ ((ulong)rng.Next() << 63), (ulong)rng.NextInt64() ^ ((ulong)rng.Next() << 63));

    /// <summary>Test addresses: each sampled prefix's first and last address and their outside neighbours, and random ones.</summary>
    private static List<UInt128> Probes(LpmEntry[] entries, int width, int seed, int count)
    {
        var rng = new Random(seed + 1);
        var familyMask = PoptrieBuilder.Mask(width);
        var probes = new List<UInt128>(count * 5);
        for (int i = 0; i < count; i++)
        {
            var e = entries[rng.Next(entries.Length)];
            UInt128 unit = UInt128.One << (128 - width);
            UInt128 last = e.Bits | (~PoptrieBuilder.Mask(e.Length) & familyMask);
            probes.Add(e.Bits);
            probes.Add(last);
            probes.Add((e.Bits - unit) & familyMask);
            probes.Add((last + unit) & familyMask);
            probes.Add(Random128(rng) & familyMask);
        }
        return probes;
    }

    /// <summary>The plain longest-prefix match: one dictionary per length, longest first.</summary>
    private sealed class NaiveLpm
    {
        private readonly (int Len, Dictionary<UInt128, uint> ByAddr)[] _byLen;

        public NaiveLpm(IEnumerable<LpmEntry> entries) =>
            _byLen = entries.GroupBy(e => (int)e.Length).OrderByDescending(g => g.Key)
                .Select(g => (g.Key, g.ToDictionary(e => e.Bits, e => e.Class))).ToArray();

        public uint Lookup(UInt128 addr)
        {
            foreach (var (len, byAddr) in _byLen)
            {
                if (byAddr.TryGetValue(PoptrieBuilder.Truncate(addr, len), out uint c))
                    return c;
            }
            throw new InvalidOperationException("no /0");
        }
    }

    private static void AssertAgrees<TTail>(LpmEntry[] entries, int seed, int probes, bool tails = true)
        where TTail : unmanaged, IPopTail<TTail>
    {
        var trie = PoptrieBuilder.Build<TTail>(entries, tails);
        var naive = new NaiveLpm(entries);
        foreach (var a in Probes(entries, TTail.Width, seed, probes))
        {
            uint want = naive.Lookup(a), got = trie.Lookup(a);
            if (got != want)
                Assert.Fail($"seed {seed}, {entries.Length} entries: {Format(a, TTail.Width)} -> class {got}, longest match gives {want}");
        }
    }

    private static string Format(UInt128 a, int width)
    {
        var b = new byte[16];
        System.Buffers.Binary.BinaryPrimitives.WriteUInt128BigEndian(b, a);
        return new System.Net.IPAddress(width == 32 ? b.AsSpan(0, 4) : b).ToString();
    }

    public static TheoryData<int, int> Sets => new() { { 1, 1 }, { 2, 40 }, { 3, 1_000 }, { 4, 5_000 }, { 5, 20_000 } };

    [Theory]
    [MemberData(nameof(Sets))]
    public void IPv4LookupIsTheLongestMatch(int seed, int count) => AssertAgrees<FwPopTail4>(RandomEntries(seed, 32, count), seed, 2_000);

    [Theory]
    [MemberData(nameof(Sets))]
    public void IPv6LookupIsTheLongestMatch(int seed, int count) => AssertAgrees<FwPopTail6>(RandomEntries(seed, 128, count), seed, 2_000);

    [Fact]
    public void WithoutTailsTheLookupIsTheSame()
    {
        AssertAgrees<FwPopTail4>(RandomEntries(7, 32, 3_000), 7, 1_000, tails: false);
        AssertAgrees<FwPopTail6>(RandomEntries(8, 128, 3_000), 8, 1_000, tails: false);
    }

    [Fact]
    public void AMillionPrefixesOfEachFamily()
    {
        var v4 = RandomEntries(11, 32, 1_000_000);
        var v6 = RandomEntries(12, 128, 1_000_000);
        Assert.Equal(1_000_001, v4.Length);
        Assert.Equal(1_000_001, v6.Length);
        AssertAgrees<FwPopTail4>(v4, 11, 10_000);
        AssertAgrees<FwPopTail6>(v6, 12, 2_000);
    }

    [Fact]
    public void EdgesOfEveryLevel()
    {
        // A host and a prefix ending at each level boundary (direct 16, nodes at 22, 28, ... 124), plus one past.
        var v4 = new List<LpmEntry> { new(UInt128.Zero, 0, 1) };
        var v6 = new List<LpmEntry> { new(UInt128.Zero, 0, 1) };
        UInt128 host4 = (UInt128)0xC612ffffu << 96, host6 = ((UInt128)0x20010db8UL << 96) | (UInt128.MaxValue >> 32);
        uint cls = 2;
        foreach (int len in new[] { 15, 16, 17, 21, 22, 23, 27, 28, 29, 31, 32 })
            v4.Add(new(PoptrieBuilder.Truncate(host4, len), (byte)len, cls++));
        uint host4Class = cls - 1;
        for (int len = 15; len <= 128; len++)
            v6.Add(new(PoptrieBuilder.Truncate(host6, len), (byte)len, cls++));
        AssertAgrees<FwPopTail4>(Sorted(v4), 21, 500);
        AssertAgrees<FwPopTail6>(Sorted(v6), 22, 500);
        // The hosts themselves get their /32 and /128; their neighbours the next longest.
        var t4 = PoptrieBuilder.Build<FwPopTail4>(Sorted(v4));
        var t6 = PoptrieBuilder.Build<FwPopTail6>(Sorted(v6));
        Assert.Equal(host4Class, t4.Lookup(host4));
        Assert.Equal(host4Class - 1, t4.Lookup(host4 - ((UInt128)1 << 96)));
        Assert.Equal(cls - 1, t6.Lookup(host6));
        Assert.Equal(cls - 2, t6.Lookup(host6 - 1));
        Assert.Equal(1u, t6.Lookup(UInt128.Zero));
    }

    [Fact]
    public void OnlyTheSlashZero()
    {
        var t = PoptrieBuilder.Build<FwPopTail6>([new LpmEntry(UInt128.Zero, 0, 5)]);
        Assert.Empty(t.Nodes);
        Assert.Empty(t.Tails);
        Assert.All(t.Direct, e => Assert.Equal(FwPop.Leaf | 5, e));
        Assert.Equal(5u, t.Lookup(UInt128.MaxValue));
    }

    [Fact]
    public void SameEntriesSameBytes()
    {
        foreach (int width in new[] { 32, 128 })
        {
            var entries = RandomEntries(31, width, 30_000);
            // Another copy reached another way: shuffled, then sorted again.
            var shuffled = entries.ToArray();
            new Random(5).Shuffle(shuffled);
            var again = Sorted(shuffled);
            if (width == 32)
                AssertSameBytes(PoptrieBuilder.Build<FwPopTail4>(entries), PoptrieBuilder.Build<FwPopTail4>(again));
            else
                AssertSameBytes(PoptrieBuilder.Build<FwPopTail6>(entries), PoptrieBuilder.Build<FwPopTail6>(again));
        }
    }

    private static void AssertSameBytes<TTail>(Poptrie<TTail> a, Poptrie<TTail> b)
        where TTail : unmanaged, IPopTail<TTail>
    {
        Assert.True(a.Direct.AsSpan().SequenceEqual(b.Direct));
        Assert.True(MemoryMarshal.AsBytes(a.Nodes.AsSpan()).SequenceEqual(MemoryMarshal.AsBytes(b.Nodes.AsSpan())));
        Assert.True(a.Leaves.AsSpan().SequenceEqual(b.Leaves));
        Assert.True(MemoryMarshal.AsBytes(a.Tails.AsSpan()).SequenceEqual(MemoryMarshal.AsBytes(b.Tails.AsSpan())));
        Assert.NotEmpty(a.Nodes);
        Assert.NotEmpty(a.Tails);
    }

    [Fact]
    public void EntriesTheBuilderCannotTakeAreRefused()
    {
        var v4 = (UInt128)0xC6120000u << 96;
        Assert.Throws<ArgumentException>(() => PoptrieBuilder.Build<FwPopTail4>([new LpmEntry(v4, 16, 1)]));   // no /0
        Assert.Throws<ArgumentException>(() => PoptrieBuilder.Build<FwPopTail4>(
            [new LpmEntry(UInt128.Zero, 0, 0), new LpmEntry(v4, 24, 1), new LpmEntry(v4, 16, 2)]));          // unsorted
        Assert.Throws<ArgumentException>(() => PoptrieBuilder.Build<FwPopTail4>(
            [new LpmEntry(UInt128.Zero, 0, 0), new LpmEntry(v4 | 1, 16, 1)]));                                 // host bits
        Assert.Throws<ArgumentException>(() => PoptrieBuilder.Build<FwPopTail4>(
            [new LpmEntry(UInt128.Zero, 0, 0), new LpmEntry(v4, 33, 1)]));                                     // past /32
        Assert.Throws<ArgumentException>(() => PoptrieBuilder.Build<FwPopTail4>([new LpmEntry(UInt128.Zero, 0, FwPop.Value + 1)]));
    }

    [Fact]
    public void ChainsOfSingleChildNodesBecomeSkips()
    {
        // Prefixes under 2001:db8::/32 branch at bit 32 and below: the levels at 16 and 22 would be nodes with
        // one child each. The direct slot of 2001::/16 is a skip to the node at bit 28 instead.
        UInt128 Db8(ulong third) => ((UInt128)0x20010db8UL << 96) | ((UInt128)third << 80);
        var entries = Sorted(
        [
            new(UInt128.Zero, 0, 1), new(Db8(0x0001), 48, 2), new(Db8(0x0002), 48, 3), new(Db8(0x8000), 33, 4),
            new(Db8(0x8000) | ((UInt128)0xabcd << 64), 64, 5),
        ]);
        var t = PoptrieBuilder.Build<FwPopTail6>(entries);
        uint slot = t.Direct[0x2001];
        Assert.Equal(FwPop.Skip, slot & FwPop.Kind);
        var skip = t.Tails[slot & FwPop.Value];
        Assert.Equal(28u, skip.Len);
        Assert.Equal(1u, skip.Dflt);
        Assert.Equal(2u, t.Lookup(Db8(0x0001) | 77));
        Assert.Equal(3u, t.Lookup(Db8(0x0002)));
        Assert.Equal(4u, t.Lookup(Db8(0x8001)));
        Assert.Equal(5u, t.Lookup(Db8(0x8000) | ((UInt128)0xabcd << 64) | 9));
        Assert.Equal(1u, t.Lookup(Db8(0x4000)));                        // on the skipped path, then the default
        Assert.Equal(1u, t.Lookup((UInt128)0x20010db9UL << 96));       // off the skipped path
        Assert.Equal(1u, t.Lookup((UInt128)0x2001UL << 112));
        AssertAgrees<FwPopTail6>(entries, 41, 2_000);
    }

    [Fact]
    public void PastTheNodeBoundIsARuleError()
    {
        // Pairs of neighbouring /128 hosts scattered over 2000::/3: each pair needs its own chain of ~18
        // nodes down to bit 124, so 240,000 pairs pass FW_POP_MAX_NODES (4,194,304).
        var rng = new Random(3);
        var prefixes = new List<IpPrefix>();
        for (int i = 0; i < 240_000; i++)
        {
            UInt128 a = ((UInt128)0x2 << 124) | ((Random128(rng) >> 3) & ~(UInt128)1);
            prefixes.Add(IpPrefix.Create(IpFamily.V6, a, 128));
            prefixes.Add(IpPrefix.Create(IpFamily.V6, a | 1, 128));
        }
        var at = new SourcePos("t.yaml", 7, 10);
        var set = new PrefixSet { Name = "pairs", Pos = at, Prefixes = prefixes };
        var rule = new Rule
        {
            Index = 0, Name = "pairs", Pos = new SourcePos("t.yaml", 6, 5), Action = RuleAction.Drop,
            Src = new AddressMatch { Prefixes = [], Sets = [set] },
            KeyPos = new Dictionary<string, SourcePos> { ["src"] = at },
        };
        var e = Assert.Throws<RulesException>(() => RulesetCompiler.Compile(new Ruleset { File = "t.yaml", Rules = [rule] }));
        var d = Assert.Single(e.Diagnostics);
        Assert.Equal(at, d.Pos);
        Assert.Contains("IPv6 src prefixes need more than 4,194,304 lookup-trie nodes", d.Message);
    }
}
