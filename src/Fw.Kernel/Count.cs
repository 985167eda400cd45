namespace Fw.Kernel;

/// <summary>Packets and bytes, totalled or for one CPU.</summary>
public readonly record struct Count(ulong Packets, ulong Bytes)
{
    public static Count operator +(Count a, Count b) => new(a.Packets + b.Packets, a.Bytes + b.Bytes);

    public static Count operator -(Count a, Count b) => new(a.Packets - b.Packets, a.Bytes - b.Bytes);

    public static Count Sum(IEnumerable<Count> counts) => counts.Aggregate(default(Count), (a, b) => a + b);
}
