namespace Fw.Kernel;

/// <summary>What is wrong with an interface's fw state, so a front end can say what to run about it.</summary>
public enum FirewallError
{
    /// <summary>fw is not attached to the interface.</summary>
    NotAttached,

    /// <summary>fw is attached already (a reload changes its rules).</summary>
    AlreadyAttached,

    /// <summary>fw's pins remain but its link lost the interface: nothing filters (an attach repairs it).</summary>
    Defunct,

    /// <summary>A reload waits for confirmation: another change is refused until it is confirmed or reverted.</summary>
    PendingConfirm,

    /// <summary>No change waits for confirmation.</summary>
    NotPending,

    /// <summary>Another XDP program is attached to the interface.</summary>
    OtherProgram,

    /// <summary>The live generation was pinned by another fw build, whose maps this one does not share (a reload rebuilds it).</summary>
    OtherBuild,

    /// <summary>fw_meta names a generation that is not pinned (only a detach and attach recover).</summary>
    Inconsistent,

    /// <summary>The live ruleset has no live set of that name.</summary>
    UnknownSet,

    /// <summary>A live set cannot hold what it was given.</summary>
    SetFull,
}
