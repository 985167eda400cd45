using Fw.Bpf;
using Fw.Rules;

namespace Fw.Kernel;

/// <summary>
/// One writer per interface: an exclusive flock on /run/fw/IFACE.lock, held for a whole attach, reload,
/// detach or trace copy, so fwctl and fwd never interleave two changes. Released on dispose or process death.
/// </summary>
public sealed class InterfaceLock : IDisposable
{
    // The interfaces whose lock this thread holds: InterfaceState.Open repairs under the lock, and must not
    // wait for one its own caller (a reload, a trace copy) already holds.
    [ThreadStatic]
    private static HashSet<string>? t_held;

    private readonly FileLock _lock;
    private readonly string _iface;

    private InterfaceLock(FileLock l, string iface)
    {
        _lock = l;
        _iface = iface;
        (t_held ??= []).Add(iface);
    }

    /// <summary>How long a change waits for another process's change of the same interface.</summary>
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(30);

    internal static bool HeldByThisThread(string iface) => t_held?.Contains(iface) == true;

    public static string PathOf(string iface) => Path.Combine(PinLayout.LockDir, InterfaceName.Checked(iface) + ".lock");

    public static InterfaceLock Acquire(string iface, TimeSpan timeout)
    {
        OwnDirectory.Ensure(PinLayout.LockDir);   // root's own (0700), never one someone else made or links elsewhere
        return new InterfaceLock(FileLock.Acquire(PathOf(iface), timeout, $"lock {iface}", "another fwctl or fwd is changing it"), iface);
    }

    public static InterfaceLock Acquire(string iface) => Acquire(iface, DefaultTimeout);

    public void Dispose()
    {
        t_held?.Remove(_iface);
        _lock.Dispose();
    }
}
