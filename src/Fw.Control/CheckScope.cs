
namespace Fw.Control;

/// <summary>What a check covers beyond the rules file itself.</summary>
public enum CheckScope
{
    /// <summary>What `fwctl check` verifies: the file parses and validates, compiles within the data plane's
    /// bounds, and every redirect target exists on this host.</summary>
    Rules,

    /// <summary>And, because fwd attaches where the file says, `interfaces:` names at least one interface and each exists.</summary>
    Daemon,
}
