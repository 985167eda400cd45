namespace Fw.Bpf;

/// <summary>XDP return codes (enum xdp_action).</summary>
public enum XdpAction : uint
{
    Aborted = 0,
    Drop = 1,
    Pass = 2,
    Tx = 3,
    Redirect = 4,
}

/// <summary>The result of one BPF_PROG_TEST_RUN: the program's return code and the kernel's mean time per run.</summary>
public readonly record struct TestRunResult(XdpAction Verdict, uint DurationNs);
