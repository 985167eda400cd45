
namespace Fw.Kernel;

/// <summary>enum fw_reason: why a frame got its verdict (fw_trace_out, the packet log).</summary>
public enum FwReason : uint
{
    Rule = 0,
    Default = 1,
    Malformed = 2,
    NonIp = 3,
    NoRuleset = 4,
}
