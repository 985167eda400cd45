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

    /// <summary>An XDP verdict as fwctl names it (text upper-cases it).</summary>
    public static string Verdict(XdpAction a) => a switch
    {
        XdpAction.Pass => "pass",
        XdpAction.Drop => "drop",
        XdpAction.Redirect => "redirect",
        XdpAction.Aborted => "aborted",
        XdpAction.Tx => "tx",
        _ => $"xdp-{(uint)a}",
    };

    /// <summary>What decided a verdict, as JSON names it.</summary>
    public static string Reason(Fw.Kernel.FwReason r) => r switch
    {
        Fw.Kernel.FwReason.Rule => "rule",
        Fw.Kernel.FwReason.Default => "default",
        Fw.Kernel.FwReason.Malformed => "malformed",
        Fw.Kernel.FwReason.NonIp => "non_ip",
        Fw.Kernel.FwReason.NoRuleset => "no_ruleset",
        _ => ((uint)r).ToString(System.Globalization.CultureInfo.InvariantCulture),
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

    /// <summary>A duration to the second, short: "42s", "9m58s", "3h07m".</summary>
    public static string Seconds(ulong s) => s switch
    {
        < 120 => $"{s}s",
        < 7200 => $"{s / 60}m{s % 60:00}s",
        _ => $"{s / 3600}h{s % 3600 / 60:00}m",
    };
}
