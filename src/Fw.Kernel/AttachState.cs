namespace Fw.Kernel;

/// <summary>Whether fw filters an interface, as its pins say.</summary>
public enum AttachState
{
    /// <summary>No pinned link: fw is not attached.</summary>
    NotAttached,

    /// <summary>The pinned link runs fw's dispatcher on the interface.</summary>
    Attached,

    /// <summary>
    /// The pinned link lost its interface (deleted, perhaps created again under the same name, or a detach killed
    /// between unlinking and removing the pins): nothing filters. An attach repairs it.
    /// </summary>
    Defunct,
}
