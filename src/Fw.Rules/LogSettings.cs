namespace Fw.Rules;

/// <summary>
/// `log:` at the top of the rules file: the packet log's rate cap and capture length, and which of the verdicts no
/// rule decides are logged. Used only when something is logged (a rule's `log`, or default/malformed/non_ip here).
/// </summary>
public sealed record LogSettings
{
    public const int MinRate = 1, MaxRate = 1_000_000;
    public const int MinSnaplen = 64, MaxSnaplen = 256;
    public const int MaxEvery = 1_000_000;

    /// <summary>The keys of `log:`, in the order rules/README.md lists them.</summary>
    public static readonly string[] Keys = ["rate", "snaplen", "default", "malformed", "non_ip"];

    public static LogSettings Default { get; } = new();

    /// <summary>Records per second per interface at most (a token bucket in the program).</summary>
    public int Rate { get; init; } = 1000;

    /// <summary>Bytes of each frame kept.</summary>
    public int Snaplen { get; init; } = 128;

    /// <summary>Frames that take the default verdict: logged one in N (1: every one), or null: not logged.</summary>
    public uint? DefaultEvery { get; init; }

    public uint? MalformedEvery { get; init; }
    public uint? NonIpEvery { get; init; }
}
