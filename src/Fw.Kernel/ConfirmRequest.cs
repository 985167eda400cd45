namespace Fw.Kernel;

/// <summary>
/// Asks <see cref="Firewall.Reload"/> for a change that reverts itself unless confirmed within <paramref name="Within"/>.
/// </summary>
/// <param name="StartTimer">
/// Starts what reverts the change at the deadline, and must outlive the caller (fwctl starts a process in a
/// session of its own). Called with the interface locked, before the change is committed: a caller killed at
/// any point after it leaves a timer behind, which reverts a committed change and forgets one that never was.
/// </param>
public sealed record ConfirmRequest(TimeSpan Within, Action<PendingConfirm> StartTimer);
