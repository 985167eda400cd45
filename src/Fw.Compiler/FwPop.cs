using Fw.Rules;

namespace Fw.Compiler;

/// <summary>Mirrors of the FW_POP_* constants of bpf/fw_common.h (a test checks them against the header).</summary>
public static class FwPop
{
    public const int DirectBits = 16;
    public const int Stride = 6;
    public const int Depth4 = 3;
    public const int Depth6 = 19;
    public const uint Leaf = 0x80000000u;
    public const uint Tail = 0xc0000000u;
    public const uint Skip = 0x40000000u;
    public const uint Kind = 0xc0000000u;
    public const uint Value = 0x3fffffffu;
    public const uint NoMatch = 0xffffffffu;
    public const int NodePageShift = 12;
    public const int LeafPageShift = 14;
    public const int TailPageShift = 11;
    public const int NodePage = 1 << NodePageShift;
    public const int LeafPage = 1 << LeafPageShift;
    public const int TailPage = 1 << TailPageShift;
    public const int MaxNodes = 4_194_304;
    public const int MaxLeaves = 16_777_216;
    public const int MaxTails = FwLimits.MaxPrefixes + (1 << DirectBits);   // tails, and a skip per direct slot
}
