using System.CommandLine;
using Fw.Compiler;
using Fw.Kernel;
using Fw.Rules;

namespace Fw.Cli;

/// <summary>fwctl attach / reload / detach: change what runs on an interface.</summary>
internal static class AttachCommands
{
    private static readonly Argument<string> IfaceArgument = new("IFACE") { Description = "The network interface" };

    private static readonly Option<string> RulesOption = new("--rules", "-r")
    {
        Description = "The rules file (rules.yaml)",
        Required = true,
    };

    private static readonly Option<string> ModeOption = new("--mode")
    {
        Description = "XDP mode: auto (native, else generic), native or generic",
        DefaultValueFactory = _ => "auto",
    };

    static AttachCommands() => ModeOption.AcceptOnlyFromAmong("auto", "native", "generic");

    public static Command CreateAttach(TextWriter stdout, TextWriter stderr)
    {
        var cmd = new Command("attach", "Load a ruleset and attach fw to an interface; pins under /sys/fs/bpf/fw/IFACE/")
        {
            IfaceArgument, RulesOption, ModeOption, FwctlApp.JsonOption,
        };
        cmd.SetAction(p => Change(p.GetValue(IfaceArgument)!, p.GetValue(RulesOption)!, p.GetValue(FwctlApp.JsonOption), stdout, stderr,
            (iface, check, file) => Firewall.Attach(iface, check, file, Enum.Parse<XdpMode>(p.GetValue(ModeOption)!, ignoreCase: true)), "attached"));
        return cmd;
    }

    public static Command CreateReload(TextWriter stdout, TextWriter stderr)
    {
        var cmd = new Command("reload", "Swap in a new ruleset atomically; counters of rules whose name persists carry over")
        {
            IfaceArgument, RulesOption, FwctlApp.JsonOption,
        };
        cmd.SetAction(p => Change(p.GetValue(IfaceArgument)!, p.GetValue(RulesOption)!, p.GetValue(FwctlApp.JsonOption), stdout, stderr,
            Firewall.Reload, "reloaded"));
        return cmd;
    }

    public static Command CreateDetach(TextWriter stdout, TextWriter stderr)
    {
        var cmd = new Command("detach", "Remove fw from an interface and every pin it made") { IfaceArgument, FwctlApp.JsonOption };
        cmd.SetAction(p =>
        {
            string iface = p.GetValue(IfaceArgument)!;
            bool json = p.GetValue(FwctlApp.JsonOption);
            return Run(json, stdout, stderr, () =>
            {
                Firewall.Detach(iface);
                if (json)
                    CheckCommand.WriteJson(stdout, new Dictionary<string, object?> { ["interface"] = iface, ["detached"] = true });
                else
                    stdout.WriteLine($"{iface}: detached");
                return FwctlApp.ExitOk;
            });
        });
        return cmd;
    }

    private static int Change(string iface, string rulesFile, bool json, TextWriter stdout, TextWriter stderr,
        Func<string, CheckResult, string, ChangeResult> change, string verb)
    {
        return Run(json, stdout, stderr, () =>
        {
            Firewall.RequireRoot();
            Firewall.Ifindex(iface);
            var check = RulesCheck.Check(rulesFile, Classifier.ResolveInterface);
            DiagnosticWriter.Write(stderr, check.Diagnostics);
            if (!check.Ok)
            {
                int errors = check.Diagnostics.Count(d => d.Severity == Severity.Error);
                string msg = $"{rulesFile}: {errors} error{(errors == 1 ? "" : "s")}; {iface} unchanged";
                if (json)
                    CheckCommand.WriteJson(stdout, new Dictionary<string, object?> { ["error"] = msg, ["diagnostics"] = check.Diagnostics.Select(CheckCommand.ToJson).ToList() });
                else
                    stderr.WriteLine(msg);
                return FwctlApp.ExitUsage;
            }
            var r = change(iface, check, rulesFile);
            if (r.FellBackToGeneric)
                stderr.WriteLine($"{iface}: native XDP is not available; attached in generic (skb) mode");
            var rs = check.Ruleset!;
            if (json)
            {
                CheckCommand.WriteJson(stdout, new Dictionary<string, object?>
                {
                    ["interface"] = iface,
                    ["generation"] = r.Generation,
                    ["mode"] = Format.Mode(r.Mode),
                    ["rules_file"] = Path.GetFullPath(rulesFile),
                    ["digest"] = check.Image!.Digest(),
                    ["rules"] = rs.Rules.Count,
                    ["prefixes"] = rs.PrefixCount,
                    ["took_ms"] = Math.Round(r.Took.TotalMilliseconds, 1),
                });
            }
            else
            {
                stdout.WriteLine($"{iface}: {verb} {rulesFile}: generation {r.Generation}, {Format.Mode(r.Mode)} XDP, " +
                    $"{rs.Rules.Count:N0} rules, {rs.PrefixCount:N0} prefixes ({r.Took.TotalMilliseconds:N0} ms)");
            }
            return FwctlApp.ExitOk;
        });
    }

    /// <summary>Runs a command body; kernel and IO failures become one clear line (and {"error"} in JSON), exit 1.</summary>
    internal static int Run(bool json, TextWriter stdout, TextWriter stderr, Func<int> body)
    {
        try
        {
            return body();
        }
        catch (Exception e) when (e is BpfException or IOException or UnauthorizedAccessException or RulesException)
        {
            string msg = e.Message.Split('\n')[0];
            stderr.WriteLine($"fwctl: {e.Message}");
            if (json)
                CheckCommand.WriteJson(stdout, new Dictionary<string, object?> { ["error"] = msg });
            return FwctlApp.ExitFailure;
        }
    }
}

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
