using Fw.Kernel;

namespace Fw.Control;

/// <summary>The result of <see cref="Deployment.Apply"/>: what happened, what ran before, what runs now.</summary>
/// <param name="Change">The attach or reload; null when unchanged.</param>
public sealed record Applied(string Interface, ApplyOutcome Outcome, ulong PreviousGeneration, string PreviousDigest, ChangeResult? Change)
{
    public ulong Generation => Change?.Generation ?? PreviousGeneration;

    /// <summary>
    /// Why an interface that ran this very ruleset (same digest) was reloaded: a redirect target with another
    /// ifindex, another classifier build; null otherwise.
    /// </summary>
    public string? Stale { get; init; }
}
