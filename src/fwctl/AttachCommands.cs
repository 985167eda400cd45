using System.CommandLine;
using Fw.Bpf;
using Fw.Control;
using Fw.Kernel;
using Fw.Rules;

namespace Fw.Cli;

/// <summary>fwctl attach / reload / detach: change what runs on an interface.</summary>
internal static class AttachCommands
{
    private static readonly Argument<string> IfaceArgument = InterfaceArgument.Required("The network interface");

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

    private static readonly Option<int?> ConfirmOption = new("--confirm")
    {
        Description = "Revert to the running ruleset by itself unless `fwctl confirm IFACE` runs within SECONDS (1-86400), " +
            "even if this shell, the SSH session and fwctl are gone",
        HelpName = "SECONDS",
    };

    static AttachCommands()
    {
        ModeOption.AcceptOnlyFromAmong("auto", "native", "generic");
        ConfirmOption.Validators.Add(r =>
        {
            if (r.GetValueOrDefault<int?>() is { } s && s is < 1 or > 86400)
                r.AddError("--confirm: SECONDS must be 1-86400");
        });
    }

    public static Command CreateAttach(TextWriter stdout, TextWriter stderr)
    {
        var cmd = new Command("attach", "Load a ruleset and attach fw to an interface; pins under /sys/fs/bpf/fw/IFACE/")
        {
            IfaceArgument, RulesOption, ModeOption, FwctlApp.JsonOption,
        };
        cmd.SetAction(p => Change(p.GetValue(IfaceArgument)!, p.GetValue(RulesOption)!, p.GetValue(FwctlApp.JsonOption), stdout, stderr,
            (iface, check) => Deployment.Attach(iface, check, Enum.Parse<XdpMode>(p.GetValue(ModeOption)!, ignoreCase: true)), "attached"));
        return cmd;
    }

    public static Command CreateReload(TextWriter stdout, TextWriter stderr)
    {
        var cmd = new Command("reload", "Swap in a new ruleset atomically; counters of rules whose name persists carry over")
        {
            IfaceArgument, RulesOption, ConfirmOption, FwctlApp.JsonOption,
        };
        cmd.SetAction(p =>
        {
            int? confirm = p.GetValue(ConfirmOption);
            var request = confirm is { } s ? new ConfirmRequest(TimeSpan.FromSeconds(s), ConfirmCommands.StartTimer) : null;
            return Change(p.GetValue(IfaceArgument)!, p.GetValue(RulesOption)!, p.GetValue(FwctlApp.JsonOption), stdout, stderr,
                (iface, check) => Deployment.Reload(iface, check, request), "reloaded", confirm is not null);
        });
        return cmd;
    }

    public static Command CreateDetach(TextWriter stdout, TextWriter stderr)
    {
        var cmd = new Command("detach", "Remove fw from an interface and every pin it made") { IfaceArgument, FwctlApp.JsonOption };
        cmd.SetAction(p =>
        {
            string iface = p.GetValue(IfaceArgument)!;
            bool json = p.GetValue(FwctlApp.JsonOption);
            return Output.Run(json, stdout, stderr, () =>
            {
                Deployment.Detach(iface);
                if (json)
                    Output.WriteJson(stdout, new Dictionary<string, object?> { ["interface"] = iface, ["detached"] = true });
                else
                    stdout.WriteLine($"{iface}: detached");
                return FwctlApp.ExitOk;
            });
        });
        return cmd;
    }

    private static int Change(string iface, string rulesFile, bool json, TextWriter stdout, TextWriter stderr,
        Func<string, CheckResult, ChangeResult> change, string verb, bool confirm = false)
    {
        return Output.Run(json, stdout, stderr, () =>
        {
            Deployment.RequireTarget(iface);
            var check = Deployment.Check(rulesFile);
            DiagnosticWriter.Write(stderr, check.Diagnostics);
            if (!check.Ok)
            {
                int errors = check.Diagnostics.Count(d => d.Severity == Severity.Error);
                string msg = $"{rulesFile}: {errors} error{(errors == 1 ? "" : "s")}; {iface} unchanged";
                if (json)
                    Output.WriteJson(stdout, new Dictionary<string, object?> { ["error"] = msg, ["diagnostics"] = check.Diagnostics.Select(Output.ToJson).ToList() });
                else
                    stderr.WriteLine(msg);
                return FwctlApp.ExitUsage;
            }
            var r = change(iface, check);
            var pending = confirm ? Firewall.Pending(iface) : null;
            if (r.FellBackToGeneric)
                stderr.WriteLine($"{iface}: native XDP is not available; attached in generic (skb) mode");
            var rs = check.Ruleset!;
            if (json)
            {
                var o = new Dictionary<string, object?>
                {
                    ["interface"] = iface,
                    ["generation"] = r.Generation,
                    ["mode"] = Format.Mode(r.Mode),
                    ["rules_file"] = Path.GetFullPath(rulesFile),
                    ["digest"] = check.Image!.Digest(),
                    ["rules"] = rs.Rules.Count,
                    ["prefixes"] = rs.PrefixCount,
                    ["took_ms"] = Math.Round(r.Took.TotalMilliseconds, 1),
                };
                if (confirm)
                    o["pending_confirm"] = ConfirmCommands.ToJson(pending);
                Output.WriteJson(stdout, o);
            }
            else
            {
                stdout.WriteLine($"{iface}: {verb} {rulesFile}: generation {r.Generation}, {Format.Mode(r.Mode)} XDP, " +
                    $"{rs.Rules.Count:N0} rules, {rs.PrefixCount:N0} prefixes ({r.Took.TotalMilliseconds:N0} ms)");
                if (pending is not null)
                {
                    stdout.WriteLine($"{iface}: unconfirmed: generation {pending.PreviousGeneration} comes back at " +
                        $"{pending.Deadline.ToLocalTime():HH:mm:ss} unless `fwctl confirm {iface}` runs before");
                }
            }
            return FwctlApp.ExitOk;
        });
    }
}
