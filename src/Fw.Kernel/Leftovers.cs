using Fw.Bpf;

namespace Fw.Kernel;

/// <summary>
/// fw's state of interfaces that were deleted while fw was attached: pins whose XDP link lost its interface
/// (nothing runs from them, and they would make the next attach of that name say "already attached"), and
/// the lock files of names that will not come back. The lab calls this for the interfaces it deletes.
/// </summary>
public static class Leftovers
{
    /// <summary>Removes the defunct pins of these interface names (a live link is never touched).</summary>
    /// <param name="forgetLocks">The names will not be used again: remove their lock files too.</param>
    public static void Remove(IReadOnlyCollection<string> names, bool forgetLocks)
    {
        PinLayout.CheckRoot();
        foreach (string iface in names)
        {
            if (!IsDefunct(iface))
                continue;
            using var lk = InterfaceLock.Acquire(iface, TimeSpan.FromSeconds(5));
            if (IsDefunct(iface))
                PinLayout.RemoveTree(PinLayout.Dir(iface));
        }
        PinLayout.RemoveRootIfEmpty();
        if (forgetLocks)
        {
            foreach (string iface in names)
            {
                File.Delete(InterfaceLock.PathOf(iface));
                File.Delete(PacketLog.ReaderLockPath(iface));
                File.Delete(EgressTracker.ClsactMarker(iface));
            }
        }
    }

    /// <summary>Whether the interface's pinned link exists and has lost its interface.</summary>
    public static bool IsDefunct(string iface)
    {
        string pin = PinLayout.Link(iface);
        if (!File.Exists(pin))
            return false;
        using var link = FdHandle.OpenPinned(pin);
        return XdpLinks.IsDefunctXdpLink(link);
    }
}
