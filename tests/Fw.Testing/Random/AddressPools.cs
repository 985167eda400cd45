using Fw.Rules;

namespace Fw.Testing.Random;

/// <summary>
/// Addresses from a few small pools (inside 198.18.0.0/15, 192.0.2.0/24 and 2001:db8::/32), each part drawn
/// from a handful of values, so generated prefixes nest, overlap and share boundaries often.
/// Values are left-aligned in 128 bits, as <see cref="IpPrefix.Bits"/>.
/// </summary>
public static class AddressPools
{
    static readonly int[] V4Third = [0, 1, 2, 100, 127, 128, 255];
    static readonly int[] V4Fourth = [0, 1, 2, 63, 64, 127, 128, 129, 254, 255];
    static readonly ushort[] V6Word2 = [0, 1, 0xbad, 0x8000, 0xffff];
    static readonly ushort[] V6Word3 = [0, 1, 0xff];
    static readonly ulong[] V6Low = [0, 1, 2, 0xff, 0x8000, 0xffff, 0x8000_0000_0000_0000, ulong.MaxValue];

    static readonly (int Length, int Weight)[] V4Lengths =
        [(0, 1), (8, 1), (15, 3), (16, 4), (17, 2), (23, 2), (24, 6), (25, 3), (26, 2), (28, 3), (30, 2), (31, 2), (32, 8), (-1, 3)];

    static readonly (int Length, int Weight)[] V6Lengths =
        [(0, 1), (16, 1), (32, 3), (33, 1), (47, 1), (48, 4), (56, 2), (63, 1), (64, 5), (96, 2), (112, 2), (120, 2), (127, 2), (128, 8), (-1, 3)];

    public static UInt128 Address(System.Random rng, IpFamily family) =>
        family == IpFamily.V4 ? V4(rng) : V6(rng);

    public static IpPrefix Prefix(System.Random rng, IpFamily family)
    {
        var lengths = family == IpFamily.V4 ? V4Lengths : V6Lengths;
        int length = Weighted(rng, lengths);
        if (length < 0)
            length = rng.Next(family == IpFamily.V4 ? 33 : 129);
        return IpPrefix.Create(family, Address(rng, family), length);
    }

    static UInt128 V4(System.Random rng)
    {
        uint a;
        if (rng.Next(4) == 0)
            a = 0xc0000200u | (uint)Pick(rng, V4Fourth, 256); // 192.0.2.x
        else
            a = 198u << 24 | (uint)(18 + rng.Next(2)) << 16 | (uint)Pick(rng, V4Third, 256) << 8 | (uint)Pick(rng, V4Fourth, 256);
        return (UInt128)a << 96;
    }

    static UInt128 V6(System.Random rng)
    {
        ulong high = 0x2001_0db8_0000_0000UL | (ulong)Pick(rng, V6Word2, 0x10000) << 16 | Pick(rng, V6Word3, 0x10000);
        ulong low = rng.Next(5) == 0 ? (ulong)rng.NextInt64() << 1 | (uint)rng.Next(2) : V6Low[rng.Next(V6Low.Length)];
        return new UInt128(high, low);
    }

    /// <summary>An element of <paramref name="values"/>, or one time in five any value below <paramref name="bound"/>.</summary>
    static int Pick(System.Random rng, int[] values, int bound) => rng.Next(5) == 0 ? rng.Next(bound) : values[rng.Next(values.Length)];

    static ulong Pick(System.Random rng, ushort[] values, int bound) =>
        (ulong)(rng.Next(5) == 0 ? rng.Next(bound) : values[rng.Next(values.Length)]);

    internal static int Weighted(System.Random rng, (int Value, int Weight)[] choices)
    {
        int total = choices.Sum(c => c.Weight);
        int r = rng.Next(total);
        foreach (var (value, weight) in choices)
        {
            if (r < weight)
                return value;
            r -= weight;
        }
        throw new InvalidOperationException("unreachable");
    }
}
