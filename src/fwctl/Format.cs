using Fw.Bpf;
using Fw.Rules;

namespace Fw.Cli;

/// <summary>How fwctl writes numbers, rates and modes.</summary>
internal static class Format
{
    public static string Mode(XdpMode m) => m switch
    {
        XdpMode.Native => "native",
        XdpMode.Generic => "generic",
        _ => "unknown",
    };

    public static string Action(RuleAction a) => a switch
    {
        RuleAction.Pass => "pass",
        RuleAction.Drop => "drop",
        _ => "redirect",
    };

    public static string Pps(double pps) => pps switch
    {
        >= 1e6 => $"{pps / 1e6:N2} Mpps",
        >= 1e3 => $"{pps / 1e3:N1} kpps",
        _ => $"{pps:N0} pps",
    };

    public static string Bits(double bps) => bps switch
    {
        >= 1e9 => $"{bps / 1e9:N2} Gbit/s",
        >= 1e6 => $"{bps / 1e6:N1} Mbit/s",
        >= 1e3 => $"{bps / 1e3:N1} kbit/s",
        _ => $"{bps:N0} bit/s",
    };
}
