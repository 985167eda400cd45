using Fw.Rules;

namespace Fw.Kernel;

/// <summary>Packets and bytes, totalled or for one CPU.</summary>
public readonly record struct Count(ulong Packets, ulong Bytes)
{
    public static Count operator +(Count a, Count b) => new(a.Packets + b.Packets, a.Bytes + b.Bytes);

    public static Count operator -(Count a, Count b) => new(a.Packets - b.Packets, a.Bytes - b.Bytes);

    public static Count Sum(IEnumerable<Count> counts) => counts.Aggregate(default(Count), (a, b) => a + b);
}

/// <summary>One counter slot: its total and its value on each possible CPU.</summary>
public sealed record Counter(Count Total, IReadOnlyList<Count> PerCpu)
{
    public static Counter From(FwCounter[] perCpu)
    {
        var list = perCpu.Select(c => new Count(c.Packets, c.Bytes)).ToArray();
        return new Counter(Count.Sum(list), list);
    }
}

public sealed record RuleCounter(int Index, string Name, RuleAction Action, Counter Counter);

/// <summary>
/// Every counter of an attached interface, read once from its pinned maps: what fwctl stats prints
/// and fwd exports. Works in any process, with or without fwd.
/// </summary>
public sealed record StatsSnapshot(
    string Interface,
    ulong Generation,
    DateTimeOffset ReadAt,
    Counter Pass,
    Counter Drop,
    Counter Redirect,
    Counter Default,
    Counter Malformed,
    Counter NonIp,
    Counter NoRuleset,
    Counter RedirectErrors,
    IReadOnlyList<RuleCounter> Rules)
{
    public int Cpus => Pass.PerCpu.Count;

    public static StatsSnapshot Read(string iface)
    {
        using var state = InterfaceState.Open(iface);
        return Read(state);
    }

    public static StatsSnapshot Read(InterfaceState state)
    {
        Counter Slot(FwStatSlot s) => Counter.From(state.Counter((uint)s));
        var rules = state.Rules
            .Select(r => new RuleCounter(r.Index, r.Name, r.Action, Counter.From(state.Counter(r.Slot))))
            .ToList();
        return new StatsSnapshot(state.Interface, state.Meta.Generation, DateTimeOffset.UtcNow,
            Slot(FwStatSlot.Pass), Slot(FwStatSlot.Drop), Slot(FwStatSlot.Redirect),
            Slot(FwStatSlot.Default), Slot(FwStatSlot.Malformed), Slot(FwStatSlot.NonIp),
            Slot(FwStatSlot.NoRuleset), Slot(FwStatSlot.RedirectErr), rules);
    }
}
