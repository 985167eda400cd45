namespace Fw.Bpf;

/// <summary>The clocks BPF programs read: bpf_ktime_get_coarse_ns (CLOCK_MONOTONIC_COARSE) and bpf_ktime_get_ns (CLOCK_MONOTONIC).</summary>
public static class KernelClock
{
    /// <summary>Whole seconds of CLOCK_MONOTONIC_COARSE, as a program computes them (ns / 10^9).</summary>
    public static uint CoarseSeconds()
    {
        BpfException.CheckFd(Interop.clock_gettime(Interop.ClockMonotonicCoarse, out var ts), "read CLOCK_MONOTONIC_COARSE");
        return (uint)ts.Sec;
    }

    /// <summary>CLOCK_MONOTONIC_COARSE in ns: what bpf_ktime_get_coarse_ns returns (live sets' expiries, limits' buckets).</summary>
    public static ulong CoarseNs()
    {
        BpfException.CheckFd(Interop.clock_gettime(Interop.ClockMonotonicCoarse, out var ts), "read CLOCK_MONOTONIC_COARSE");
        return (ulong)ts.Sec * 1_000_000_000UL + (ulong)ts.Nsec;
    }

    /// <summary>CLOCK_MONOTONIC in ns: what bpf_ktime_get_ns returns.</summary>
    public static ulong MonotonicNs()
    {
        BpfException.CheckFd(Interop.clock_gettime(ClockMonotonic, out var ts), "read CLOCK_MONOTONIC");
        return (ulong)ts.Sec * 1_000_000_000UL + (ulong)ts.Nsec;
    }

    private const int ClockMonotonic = 1;
}
