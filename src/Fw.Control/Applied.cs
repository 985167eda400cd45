using Fw.Kernel;

namespace Fw.Control;

/// <summary>The result of <see cref="Deployment.Apply"/>: what happened, what ran before, what runs now.</summary>
/// <param name="Change">The attach or reload; null when unchanged.</param>
public sealed record Applied(string Interface, ApplyOutcome Outcome, ulong PreviousGeneration, string PreviousDigest, ChangeResult? Change)
{
    public ulong Generation => Change?.Generation ?? PreviousGeneration;
}
