namespace Fw.Rules;

/// <summary>
/// The bounds of a ruleset, the same as the data plane's (bpf/fw_common.h FW_MAX_*; a test checks them against
/// the header): the reader refuses past them with a position, the compiler sizes its tables by them.
/// </summary>
public static class FwLimits
{
    public const int MaxRules = 4096;
    public const int WordBits = 64;
    public const int MaxWords = MaxRules / WordBits;
    public const int MaxPrefixes = 1_048_576;
    public const int MaxClasses = 262_144;
    public const int MaxName = 64;               // NUL included
    public const int MaxNameBytes = MaxName - 1;
    public const int PortAbsent = 65536;
    public const int ByteAbsent = 256;

    /// <summary>Rules with a limit (FW_MAX_LIMITS).</summary>
    public const int MaxLimits = 64;

    /// <summary>Distinct live sets rules may name in src, and as many in dst (FW_SET_FIELD_SLOTS).</summary>
    public const int LiveSetsPerField = 8;

    /// <summary>Live sets named in neither src nor dst: add_to targets, sets only fwctl fills (FW_SET_SLOTS - 2 * FW_SET_FIELD_SLOTS).</summary>
    public const int LiveSetsOther = 16;
}
