namespace Fw.Bpf;

/// <summary>
/// The kernel's own run-time statistics of BPF programs (what `bpftool prog show` reports as run_time_ns and
/// run_cnt): collected while some process holds the descriptor <see cref="Enable"/> returns
/// (BPF_ENABLE_STATS, the same switch as sysctl kernel.bpf_stats_enabled, restored when the last holder closes).
/// A tail-called program's time counts in the caller's figure.
/// </summary>
public static unsafe class ProgramStats
{
    /// <summary>Turns the statistics on until the returned handle is disposed.</summary>
    public static FdHandle Enable() =>
        new(BpfException.CheckFd(Interop.bpf_enable_stats(0 /* BPF_STATS_RUN_TIME */), "enable BPF run-time statistics"));

    /// <summary>Total ns the program with kernel id <paramref name="progId"/> ran, and how many times.</summary>
    public static (ulong RunTimeNs, ulong RunCount) Read(uint progId)
    {
        using var prog = new FdHandle(BpfException.CheckFd(Interop.bpf_prog_get_fd_by_id(progId), $"open program {progId}"));
        var info = default(Interop.ProgInfo);
        uint len = (uint)sizeof(Interop.ProgInfo);
        BpfException.CheckFd(Interop.bpf_obj_get_info_by_fd(prog.Fd, &info, ref len), $"read program {progId}'s info");
        return (info.RunTimeNs, info.RunCnt);
    }
}
