
namespace Fw.Control;

/// <summary>What <see cref="Deployment.Apply"/> did to an interface.</summary>
public enum ApplyOutcome
{
    /// <summary>fw was not attached: it is now, at generation 1.</summary>
    Attached,

    /// <summary>The interface already ran this ruleset (same digest): nothing changed, counters continue.</summary>
    Unchanged,

    /// <summary>The interface ran another ruleset: the new one was swapped in.</summary>
    Reloaded,
}
