using Fw.Bpf;

namespace Fw.Kernel;

/// <summary>
/// One frame of the packet log, decoded: when it arrived (wall clock), on which CPU and interface, its verdict and
/// what decided it (a rule, named when its generation is known, or the default, malformed or non-IP verdict), its
/// length and its first bytes.
/// </summary>
public sealed record LogRecord(
    DateTimeOffset Time,
    int Cpu,
    int Ifindex,
    XdpAction Verdict,
    FwReason Reason,
    uint Slot,
    int? RuleIndex,
    string? RuleName,
    int Length,
    byte[] Data)
{
    /// <summary>What decided the verdict as fwctl prints it: the rule's name, or (default), (malformed), (non-ip).</summary>
    public string Decided => Reason switch
    {
        FwReason.Rule => RuleName ?? $"slot {Slot}",
        FwReason.Default => "(default)",
        FwReason.Malformed => "(malformed)",
        FwReason.NonIp => "(non-ip)",
        _ => $"(reason {(uint)Reason})",
    };
}
