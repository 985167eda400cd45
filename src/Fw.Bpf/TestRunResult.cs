namespace Fw.Bpf;

/// <summary>The result of one BPF_PROG_TEST_RUN: the program's return code and the kernel's mean time per run.</summary>
public readonly record struct TestRunResult(XdpAction Verdict, uint DurationNs);
