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
            ("generator", $"BPF_PROG_RUN with BPF_F_TEST_XDP_LIVE_FRAMES (src/Fw.Traffic), {o.Threads} thread(s), each pinned to its CPU and feeding its own veth queue; " +
                $"calls of about {Generator.CallSeconds} s, batch {o.Batch}; the receiver's NAPI runs on the sending CPU after every batch, so each CPU's rate is 1 / (generator + receiver)"),
            ("measurement", $"a warm-up call per thread, then {o.Duration:0.###} s of traffic; received = the receiving interface's rx_packets delta; rates are per second of the generator's send loop as the kernel times it (BPF_PROG_RUN's duration: time scheduled out to other work not counted) times the threads, so a busy machine changes the wall-clock rate more than these; median of {o.Runs} runs; scenarios alternate (every run visits all, every other run in reverse)"),
            ("verdicts", "every packet of every fw scenario ends in XDP_DROP (all rules drop, default: drop), like the bare XDP_DROP baseline; the system's own counter of the expected rule (or default) must equal the frames received"),
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
