namespace Fw.Kernel;

/// <summary>One counter slot: its total and its value on each possible CPU.</summary>
public sealed record Counter(Count Total, IReadOnlyList<Count> PerCpu)
{
    public static Counter From(FwCounter[] perCpu)
    {
        var list = perCpu.Select(c => new Count(c.Packets, c.Bytes)).ToArray();
        return new Counter(Count.Sum(list), list);
    }
}
