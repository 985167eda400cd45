using Fw.Lab;

namespace Fw.Bench.Throughput;

/// <summary>The facts written beside every figure: kernel, CPU, XDP mode, tools, how traffic was made.</summary>
public static class Machine
{
    public static IReadOnlyList<(string Key, string Value)> Describe(Options o)
    {
        string cpu = File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name"))?.Split(':', 2)[1].Trim() ?? "unknown CPU";
        return
        [
            ("kernel", File.ReadAllText("/proc/sys/kernel/osrelease").Trim()),
            ("CPU", $"{cpu}, {Environment.ProcessorCount} CPUs online ({File.ReadAllText("/sys/devices/system/cpu/online").Trim()}); shared with other work: see the spreads"),
            ("XDP mode", "native XDP on veth (the receiving end of one veth pair in its own network namespace)"),
            ("traffic", $"frames written from user space by an AF_PACKET socket with a TPACKET_V2 TX ring and PACKET_QDISC_BYPASS (src/Fw.Traffic, as netsniff-ng's trafgen sends), " +
                $"{o.Threads} thread(s), each pinned to its CPU and sending into its own queue of the generator's veth end, in chunks of {Generator.Chunk:N0} frames through a {Generator.RingFrames}-frame ring; " +
                "the sender rewrites the varied fields of each frame in the ring; the receiving end's softirq (veth, XDP or the stack) runs on the sending CPU after each frame"),
            ("measurement", $"a warm-up per thread, then {o.Duration:0.###} s of traffic per system and round; median of {o.Runs} rounds, each visiting every system (every other round in reverse order), " +
                "each measurement paired with the bare XDP_DROP one just before it. Program: the attached XDP program's run_time_ns / run_cnt deltas from the kernel's BPF statistics " +
                "(BPF_ENABLE_STATS; fw's dispatcher figure includes the tail-called classifier, xdp-filter's its libxdp dispatcher). Whole path: the sending threads' CPU time " +
                "(CLOCK_THREAD_CPUTIME_ID: this kernel has no IRQ time accounting, so the softirq run on the thread is charged to it) plus ksoftirqd's on those CPUs, per frame sent. " +
                "Delivered: the receiving interface's rx_packets delta per wall second. Checked every time: frames sent = frames received = program runs"),
            ("verdicts", "every packet of every fw scenario ends in XDP_DROP (all rules drop, default: drop), like the bare XDP_DROP baseline" +
                (o.State && o.Live ? ", but fw + state's established packets, which its `established` rule passes (XDP_PASS; the stack behind drops them)" : "") +
                "; the system's own counter of the expected rule (or default) must equal the frames received"),
            ("tools", $"{Version("nft", "--version")}; {Version("xdp-filter", "load", "--version")}; .NET {Environment.Version}"),
        ];
    }

    private static string Version(string tool, params string[] args)
    {
        try
        {
            var r = Command.Run(tool, args);
            return (r.Stdout + r.Stderr).Split('\n', StringSplitOptions.RemoveEmptyEntries).FirstOrDefault()?.Trim() ?? tool;
        }
        catch (Exception e) when (e is System.ComponentModel.Win32Exception or LabException or TimeoutException)
        {
            return $"{tool}: not found";
        }
    }
}
