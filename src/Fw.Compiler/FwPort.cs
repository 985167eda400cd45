using Fw.Rules;
namespace Fw.Compiler;

/// <summary>Mirrors of the FW_PORT_* constants of bpf/fw_common.h (a test checks them against the header).</summary>
public static class FwPort
{
    public const int PageShift = 8;
    public const int Page = 1 << PageShift;
    public const int DirEntries = FwLimits.PortAbsent / Page + 1;
    public const uint Uniform = 0x80000000u;
}
