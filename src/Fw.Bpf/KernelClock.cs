namespace Fw.Bpf;

/// <summary>The clock BPF programs read with bpf_ktime_get_coarse_ns: CLOCK_MONOTONIC_COARSE.</summary>
public static class KernelClock
{
    /// <summary>Whole seconds of CLOCK_MONOTONIC_COARSE, as a program computes them (ns / 10^9).</summary>
    public static uint CoarseSeconds()
    {
        BpfException.CheckFd(Interop.clock_gettime(Interop.ClockMonotonicCoarse, out var ts), "read CLOCK_MONOTONIC_COARSE");
        return (uint)ts.Sec;
    }
}
