using Fw.Rules;

namespace Fw.Kernel;

/// <summary>One rule's counter, with the rule's position, name and action in the live generation.</summary>
/// <param name="Limited">The rule has a limit: its counter counts the packets over it (drop) or within it (a pass quota).</param>
public sealed record RuleCounter(int Index, string Name, RuleAction Action, Counter Counter, bool Limited = false);

/// <summary>A live set's size and counters (see <see cref="FwSetCounter"/>), for stats and metrics.</summary>
/// <param name="Entries">Entries in the set, expired ones not yet swept included.</param>
/// <param name="Added">Entries added: by add_to and by fwctl set add/sync.</param>
/// <param name="Full">add_to's adds the full set refused.</param>
public sealed record LiveSetCounts(string Name, int Entries, int Max, uint? Timeout, ulong Added, ulong Refreshed, ulong Full,
    ulong Expired, ulong Removed);
