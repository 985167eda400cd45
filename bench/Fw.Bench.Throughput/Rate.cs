namespace Fw.Bench.Throughput;

/// <summary>
/// What one measurement saw, by three measures:
/// <list type="bullet">
/// <item><see cref="ProgNs"/>: the attached XDP program's own ns per packet from the kernel's BPF statistics
/// (run_time_ns / run_cnt deltas over the measurement; fw's dispatcher figure includes the tail-called
/// classifier); null for a system with no XDP program (nftables).</item>
/// <item><see cref="PathNs"/>: the whole path's ns per frame on one CPU: the sending threads' CPU time
/// (CLOCK_THREAD_CPUTIME_ID; the receiving veth's softirq runs on the sending thread after each frame, so it is
/// included) plus the time ksoftirqd spent on those CPUs, divided by the frames sent.</item>
/// <item><see cref="RxPps"/>: delivered frames per wall-clock second (the receiving interface's rx_packets delta).</item>
/// </list>
/// </summary>
public readonly record struct Rate(ulong Sent, ulong Rx, double WallSeconds, double CpuSeconds, double PathNs, double? ProgNs, ulong ProgRuns)
{
    public double RxPps => Rx / WallSeconds;

    public double SentPps => Sent / WallSeconds;
}
