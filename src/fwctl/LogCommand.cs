using System.CommandLine;
using System.Runtime.InteropServices;
using Fw.Bpf;
using Fw.Kernel;
using Fw.Packets;

namespace Fw.Cli;

/// <summary>
/// fwctl log IFACE [--json] [-w FILE|-] [--count N] [--seconds S] [--rule NAME]...: follows the interface's packet log
/// (the frames its rules and settings log) until Ctrl-C, N records or S seconds. Text: one line a frame; --json: one
/// object a line; -w: a pcap file (or stdout), for tcpdump and Wireshark.
/// </summary>
internal static class LogCommand
{
    private static readonly Option<string?> WriteOption = new("--write", "-w")
    {
        Description = "Write the frames to a pcap file (- for stdout, e.g. `fwctl log fw0 -w - | tcpdump -nr -`) instead of printing them",
    };

    private static readonly Option<long?> CountOption = new("--count", "-c")
    {
        Description = "Stop after N records (those --rule keeps)",
    };

    private static readonly Option<double?> SecondsOption = new("--seconds")
    {
        Description = "Stop after S seconds",
    };

    private static readonly Option<string[]> RuleOption = new("--rule")
    {
        Description = "Only records decided by this rule (repeat for several; default, malformed and non-ip name the verdicts no rule decides)",
        AllowMultipleArgumentsPerToken = false,
    };

    public static Command Create(TextWriter stdout, TextWriter stderr)
    {
        var iface = InterfaceArgument.Required("The interface");
        var cmd = new Command("log", "Follow the packet log: the frames the ruleset logs (`log` on a rule, `log:` for the default, malformed and non-IP verdicts)")
        {
            iface, FwctlApp.JsonOption, WriteOption, CountOption, SecondsOption, RuleOption,
        };
        cmd.SetAction((p, ct) => Task.FromResult(Run(p.GetValue(iface)!, p.GetValue(FwctlApp.JsonOption), p.GetValue(WriteOption),
            p.GetValue(CountOption), p.GetValue(SecondsOption), p.GetValue(RuleOption) ?? [], stdout, stderr, ct)));
        return cmd;
    }

    public static int Run(string iface, bool json, string? write, long? count, double? seconds, string[] rules,
        TextWriter stdout, TextWriter stderr, CancellationToken ct)
    {
        if (count is <= 0)
            return Output.Fail(json, stdout, stderr, FwctlApp.ExitUsage, "log: --count needs a positive number");
        if (seconds is not null and (<= 0 or > 31_536_000 or double.NaN))
            return Output.Fail(json, stdout, stderr, FwctlApp.ExitUsage, "log: --seconds needs a positive number of seconds (at most a year)");
        if (write is not null && json)
            return Output.Fail(json, stdout, stderr, FwctlApp.ExitUsage, "log: -w writes pcap; --json prints records: one or the other");
        return Output.Run(json, stdout, stderr, () =>
        {
            using var log = PacketLog.Open(iface);
            using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
            using var sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, c => { c.Cancel = true; stop.Cancel(); });
            using var sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, c => { c.Cancel = true; stop.Cancel(); });
            if (seconds is { } s)
                stop.CancelAfter(TimeSpan.FromSeconds(s));
            using var sink = write is null ? null : LogPcap.Open(write);
            var keep = rules.Length == 0 ? null : new HashSet<string>(rules, StringComparer.Ordinal);
            long n = 0;
            while (!stop.IsCancellationRequested && (count is null || n < count))
            {
                log.Read(PacketLog.PollInterval, r =>
                {
                    if ((count is not null && n >= count) || (keep is not null && !keep.Contains(RuleKey(r))))
                        return;
                    n++;
                    if (sink is not null)
                        sink.Write(r);   // flushed: `fwctl log fw0 -w - | tcpdump -nr -` shows each frame at once
                    else if (json)
                        Output.WriteJsonLine(stdout, ToJson(r));
                    else
                        stdout.WriteLine(Text(r));
                    if (sink is null)
                        stdout.Flush();
                });
            }
            if (sink is not null)
                stderr.WriteLine($"fwctl: {n:N0} frames written to {(write == "-" ? "stdout" : write)}");
            return FwctlApp.ExitOk;
        });
    }

    /// <summary>What --rule names: the rule's name, or default, malformed, non-ip.</summary>
    private static string RuleKey(LogRecord r) => r.Reason switch
    {
        FwReason.Rule => r.RuleName ?? $"slot {r.Slot}",
        FwReason.Default => "default",
        FwReason.Malformed => "malformed",
        FwReason.NonIp => "non-ip",
        _ => "",
    };

    internal static string Text(LogRecord r) =>
        $"{r.Time.UtcDateTime:yyyy-MM-ddTHH:mm:ss.ffffffZ} {Format.Verdict(r.Verdict).ToUpperInvariant(),-8} {r.Decided,-20} {Summary(r)}";

    private static string Summary(LogRecord r) =>
        FrameSummary.Describe(r.Data) + (r.Data.Length < r.Length ? $" ({r.Length:N0} bytes, {r.Data.Length} captured)" : $" ({r.Length:N0} bytes)");

    internal static Dictionary<string, object?> ToJson(LogRecord r) => new()
    {
        ["time"] = r.Time.UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ss.ffffffZ"),
        ["cpu"] = r.Cpu,
        ["ifindex"] = r.Ifindex,
        ["verdict"] = Format.Verdict(r.Verdict),
        ["reason"] = Format.Reason(r.Reason),
        ["rule"] = r.Reason == FwReason.Rule ? r.RuleName : null,
        ["rule_index"] = r.RuleIndex,
        ["length"] = r.Length,
        ["summary"] = FrameSummary.Describe(r.Data),
        ["bytes"] = Convert.ToHexStringLower(r.Data),
    };
}
