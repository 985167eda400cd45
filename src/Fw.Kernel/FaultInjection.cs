using System.Collections.Concurrent;
using Fw.Bpf;

namespace Fw.Kernel;

/// <summary>
/// TEST-ONLY fault injection for reloads (tests/Fw.Tests/Kernel/FaultTests.cs; internal, visible to
/// Fw.Tests only). Nothing in fw arms it: an unarmed interface costs one dictionary lookup per reload.
/// Faults are armed per interface, so tests reloading other interfaces at the same time are untouched.
/// <list type="bullet">
/// <item>map sizes: the named maps of the next generation are created with these max_entries whatever the
/// image needs, so filling them fails in the kernel itself (E2BIG: an index past an ARRAY's max_entries)
/// after the entries before the failing one were written;</item>
/// <item>a failure at a step: a <see cref="BpfException"/> with the given errno, which the reload handles
/// as it would a real one (roll back);</item>
/// <item>a crash at a step: a <see cref="SimulatedCrash"/>, which no handler in the reload catches, so only
/// what process death also does happens (fds closed, the flock released) and the pins stay as they are.</item>
/// </list>
/// </summary>
internal static class FaultInjection
{
    private sealed record Fault(IReadOnlyDictionary<string, int>? MapSizes, ReloadStep? At, int Errno, bool Crash);

    private static readonly ConcurrentDictionary<string, Fault> s_armed = new();

    /// <summary>Thrown at an armed crash step; stands for the process dying there.</summary>
    internal sealed class SimulatedCrash(string iface, ReloadStep step)
        : Exception($"simulated crash of a reload of {iface} at {step}");

    public static IDisposable ArmMapSizes(string iface, IReadOnlyDictionary<string, int> maxEntries) =>
        Arm(iface, new Fault(maxEntries, null, 0, false));

    public static IDisposable ArmFailure(string iface, ReloadStep step, int errno)
    {
        if (step == ReloadStep.Switched)
            throw new ArgumentException("after the switch the reload has happened; only a crash can stop it there", nameof(step));
        return Arm(iface, new Fault(null, step, errno, false));
    }

    public static IDisposable ArmCrash(string iface, ReloadStep step) => Arm(iface, new Fault(null, step, 0, true));

    internal static IReadOnlyDictionary<string, int>? MapSizes(string iface) =>
        s_armed.TryGetValue(iface, out var f) ? f.MapSizes : null;

    internal static void At(string iface, ReloadStep step)
    {
        if (!s_armed.TryGetValue(iface, out var f) || f.At != step)
            return;
        if (f.Crash)
            throw new SimulatedCrash(iface, step);
        throw new BpfException($"reload {iface}: injected fault at {step}", f.Errno);
    }

    private static IDisposable Arm(string iface, Fault fault)
    {
        if (!s_armed.TryAdd(iface, fault))
            throw new InvalidOperationException($"{iface}: a fault is armed already");
        return new Disarm(iface);
    }

    private sealed class Disarm(string iface) : IDisposable
    {
        public void Dispose() => s_armed.TryRemove(iface, out _);
    }
}
