using System.Buffers.Binary;

namespace Fw.Bench.Prefix;

/// <summary>
/// An address family as the builders see it: addresses are <see cref="UInt128"/> aligned to the
/// left (an IPv4 address is the top 32 bits), so one builder serves both families.
/// </summary>
public sealed record Family(int Width, string Suffix, string Name)
{
    public static readonly Family V4 = new(32, "4", "IPv4");
    public static readonly Family V6 = new(128, "6", "IPv6");

    public int MaxLens => Width == 32 ? PbConst.MaxLens4 : PbConst.MaxLens6;

    public static UInt128 Mask(int len) => len == 0 ? UInt128.Zero : UInt128.MaxValue << (128 - len);

    public static UInt128 Truncate(UInt128 addr, int len) => addr & Mask(len);

    public uint Top32(UInt128 addr) => (uint)(addr >> 96);

    public string Format(UInt128 addr, int len)
    {
        var bytes = new byte[16];
        BinaryPrimitives.WriteUInt128BigEndian(bytes, addr);
        var ip = new System.Net.IPAddress(Width == 32 ? bytes.AsSpan(0, 4) : bytes);
        return $"{ip}/{len}";
    }
}

/// <summary>One distinct prefix with its class, as the compiler hands it over (masked, left-aligned).</summary>
public readonly record struct Prefix(UInt128 Addr, int Len, uint Class) : IComparable<Prefix>
{
    /// <summary>Address order, shorter first at equal address: every prefix comes after the ones that contain it.</summary>
    public int CompareTo(Prefix other)
    {
        int c = Addr.CompareTo(other.Addr);
        return c != 0 ? c : Len.CompareTo(other.Len);
    }

    public bool Contains(UInt128 addr) => Family.Truncate(addr, Len) == Addr;
}

/// <summary>
/// A seeded prefix set shaped like a blocklist plus a routing table, and test addresses for it.
/// IPv4: lengths 8..32 with ~30% /32 hosts and ~38% /24, the rest BGP-like (/16../23, some /25../31).
/// IPv6: lengths 32..128, weighted to /48, /56, /64, /128; prefixes longer than /32 fall inside a
/// pool of n/32 "allocations" (RIR /32s), so they nest as real tables do. Every set holds a /0
/// (the compiler fills one in) with class 0; the other classes are 1..classes.
/// </summary>
public sealed class PrefixSet
{
    private static readonly (int Len, double Weight)[] s_weights4 =
    [
        (8, 0.1), (9, 0.05), (10, 0.05), (11, 0.1), (12, 0.15), (13, 0.15), (14, 0.2), (15, 0.2),
        (16, 2.0), (17, 0.5), (18, 1.0), (19, 1.5), (20, 3.5), (21, 4.0), (22, 7.0), (23, 5.5),
        (24, 38.0), (25, 1.5), (26, 1.2), (27, 1.0), (28, 0.9), (29, 0.8), (30, 0.4), (31, 0.2),
        (32, 30.0),
    ];

    private static readonly (int Len, double Weight)[] s_weights6 = Weights6();

    private static (int, double)[] Weights6()
    {
        var w = new Dictionary<int, double> { [32] = 6, [36] = 3, [40] = 3, [44] = 3, [48] = 38, [56] = 10, [64] = 15, [128] = 13 };
        foreach (int l in new[] { 33, 34, 35, 37, 38, 39, 41, 42, 43, 45, 46, 47 })
            w[l] = 3.0 / 12;
        for (int l = 49; l <= 55; l++)
            w[l] = 2.0 / 7;
        for (int l = 57; l <= 63; l++)
            w[l] = 2.0 / 7;
        for (int l = 65; l <= 127; l++)
            w[l] = 2.0 / 63;
        return w.OrderBy(kv => kv.Key).Select(kv => (kv.Key, kv.Value)).ToArray();
    }

    public required Family Family { get; init; }
    public required Prefix[] Prefixes { get; init; }   // distinct, the /0 included, generation order
    public required UInt128[] TestAddrs { get; init; } // half inside a random prefix, half random

    public uint DefaultClass => 0;

    public static PrefixSet Generate(Family family, int count, int classes, int testAddrs, int seed)
    {
        // HashCode.Combine is salted per process: mix by hand so a seed names one set forever.
        var rng = new Random(unchecked(seed * 1_000_003 + family.Width * 7_919 + count));
        var weights = family.Width == 32 ? s_weights4 : s_weights6;
        double total = weights.Sum(w => w.Weight);
        // IPv6 global unicast: 2000::/3.
        UInt128 space = family.Width == 32 ? UInt128.Zero : (UInt128)0x2 << 124;
        int spaceLen = family.Width == 32 ? 0 : 3;
        var pool = new UInt128[Math.Max(64, count / 32)];
        for (int i = 0; i < pool.Length; i++)
            pool[i] = Family.Truncate(space | (Random128(rng) >> spaceLen), 32);

        var seen = new HashSet<(UInt128, int)>(count + 1) { (UInt128.Zero, 0) };
        var list = new List<Prefix>(count + 1) { new(UInt128.Zero, 0, 0) };
        while (list.Count < count + 1)
        {
            int len = Pick(rng, weights, total);
            // A length whose space is full (there are 256 /8s) gives up after a few tries.
            for (int attempt = 0; attempt < 8; attempt++)
            {
                UInt128 addr = Random128(rng);
                if (family.Width == 32)
                    addr &= Family.Mask(32);
                else if (len > 32)
                    addr = pool[rng.Next(pool.Length)] | (addr >> 32);
                else
                    addr = space | (addr >> spaceLen);
                addr = Family.Truncate(addr, len);
                if (seen.Add((addr, len)))
                {
                    list.Add(new Prefix(addr, len, (uint)rng.Next(1, classes + 1)));
                    break;
                }
            }
        }

        var tests = new UInt128[testAddrs];
        for (int i = 0; i < tests.Length; i++)
        {
            UInt128 r = Random128(rng) & Family.Mask(family.Width);
            if (i % 2 == 0)
            {
                var p = list[1 + rng.Next(list.Count - 1)];
                tests[i] = p.Addr | (r & ~Family.Mask(p.Len));
            }
            else
            {
                tests[i] = family.Width == 32 ? r : space | (r >> spaceLen);
            }
        }
        return new PrefixSet { Family = family, Prefixes = list.ToArray(), TestAddrs = tests };
    }

    private static int Pick(Random rng, (int Len, double Weight)[] weights, double total)
    {
        double x = rng.NextDouble() * total;
        foreach (var (len, w) in weights)
        {
            if ((x -= w) < 0)
                return len;
        }
        return weights[^1].Len;
    }

    private static UInt128 Random128(Random rng) => new((ulong)rng.NextInt64() ^ ((ulong)rng.Next() << 63), (ulong)rng.NextInt64() ^ ((ulong)rng.Next() << 63));

    /// <summary>
    /// Nodes the kernel's LPM trie adds beyond the prefixes (its memlock counts only prefixes): the
    /// trie is a path-compressed binary trie, so there is one where two neighbours in address
    /// order part ways at a point that is not itself a prefix.
    /// </summary>
    public int LpmIntermediateNodes()
    {
        var sorted = (Prefix[])Prefixes.Clone();
        Array.Sort(sorted);
        var prefixes = new HashSet<(UInt128, int)>(sorted.Select(p => (p.Addr, p.Len)));
        var branches = new HashSet<(UInt128, int)>();
        for (int i = 1; i < sorted.Length; i++)
        {
            Prefix a = sorted[i - 1], b = sorted[i];
            int common = Math.Min(Math.Min(a.Len, b.Len), (int)UInt128.LeadingZeroCount(a.Addr ^ b.Addr));
            if (common < a.Len && common < b.Len)
            {
                var k = (Family.Truncate(a.Addr, common), common);
                if (!prefixes.Contains(k))
                    branches.Add(k);
            }
        }
        return branches.Count;
    }

    /// <summary>Distinct lengths above 0, ascending.</summary>
    public int[] Lengths() => Prefixes.Where(p => p.Len > 0).Select(p => p.Len).Distinct().Order().ToArray();
}

/// <summary>
/// The oracle: longest prefix match by probing one dictionary per length, longest first.
/// Written plainly; shares nothing with the builders.
/// </summary>
public sealed class ReferenceLpm
{
    private readonly Dictionary<UInt128, uint>[] _byLen;
    private readonly int[] _lensDesc;

    public ReferenceLpm(PrefixSet set)
    {
        _byLen = new Dictionary<UInt128, uint>[129];
        foreach (var p in set.Prefixes)
            (_byLen[p.Len] ??= [])[p.Addr] = p.Class;
        _lensDesc = Enumerable.Range(0, 129).Where(l => _byLen[l] != null).OrderDescending().ToArray();
    }

    public uint Lookup(UInt128 addr)
    {
        foreach (int len in _lensDesc)
        {
            if (_byLen[len].TryGetValue(Family.Truncate(addr, len), out uint c))
                return c;
        }
        return PbConst.NoMatch;
    }
}
