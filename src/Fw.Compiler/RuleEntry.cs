using Fw.Rules;

namespace Fw.Compiler;

/// <summary>One rule as the data plane sees it; the interface name is resolved by the kernel layer.</summary>
/// <param name="Track">`track: true`: a packet the rule passes puts its flow into the flow table.</param>
/// <param name="LogEvery">`log`: the frames it decides are logged one in N (1: every one); 0: not logged.</param>
public sealed record RuleEntry(string Name, RuleAction Action, string? RedirectTo, bool Track = false, uint LogEvery = 0);
