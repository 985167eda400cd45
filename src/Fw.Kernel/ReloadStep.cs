namespace Fw.Kernel;

/// <summary>The steps of <see cref="Firewall.Reload"/> a test can break at (see <see cref="FaultInjection"/>).</summary>
internal enum ReloadStep
{
    /// <summary>gen-N+1 is pinned completely; fw_meta still names N.</summary>
    Pinned,

    /// <summary>fw_meta names N+1 (the commit); fw_progs[0] still runs N.</summary>
    Committed,

    /// <summary>fw_progs[0] runs N+1; gen-N is not removed yet.</summary>
    Switched,
}
