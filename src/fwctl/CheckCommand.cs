using System.CommandLine;
using Fw.Control;
using Fw.Rules;

namespace Fw.Cli;

/// <summary>fwctl check FILE: validate a ruleset without touching the kernel.</summary>
internal static class CheckCommand
{
    private static readonly Argument<string> FileArgument = new("FILE") { Description = "The rules file (rules.yaml)" };

    public static Command Create(TextWriter stdout, TextWriter stderr)
    {
        var cmd = new Command("check", "Validate a rules file; print every error as FILE:LINE:COL (exit 2) or a summary (exit 0)")
        {
            FileArgument,
            FwctlApp.JsonOption,
        };
        cmd.SetAction(parse => Run(parse.GetValue(FileArgument)!, parse.GetValue(FwctlApp.JsonOption), stdout, stderr));
        return cmd;
    }

    public static int Run(string path, bool json, TextWriter stdout, TextWriter stderr)
    {
        var result = Deployment.Check(path);
        var diagnostics = result.Diagnostics;
        DiagnosticWriter.Write(stderr, diagnostics);
        if (!result.Ok)
        {
            int errors = diagnostics.Count(d => d.Severity == Severity.Error);
            if (json)
            {
                Output.WriteJson(stdout, new Dictionary<string, object?>
                {
                    ["error"] = $"{path}: {errors} error{(errors == 1 ? "" : "s")}",
                    ["diagnostics"] = diagnostics.Select(Output.ToJson).ToList(),
                });
            }
            else
            {
                stderr.WriteLine($"{Printable.Clean(path)}: {errors} error{(errors == 1 ? "" : "s")}, nothing loaded");
            }
            return FwctlApp.ExitUsage;
        }

        var rs = result.Ruleset!;
        if (json)
        {
            Output.WriteJson(stdout, new Dictionary<string, object?>
            {
                ["file"] = path,
                ["valid"] = true,
                ["rules"] = rs.Rules.Count,
                ["prefixes"] = rs.PrefixCount,
                ["sets"] = rs.Sets.Count,
                ["classes"] = result.Image!.ClassCount,
                ["digest"] = result.Image.Digest(),
                ["warnings"] = diagnostics.Where(d => d.Severity == Severity.Warning).Select(Output.ToJson).ToList(),
            });
        }
        else
        {
            int warnings = diagnostics.Count(d => d.Severity == Severity.Warning);
            stdout.WriteLine($"{Printable.Clean(path)}: ok: {rs.Rules.Count:N0} rules, {rs.PrefixCount:N0} prefixes, {rs.Sets.Count:N0} sets" +
                (warnings > 0 ? $", {warnings} warning{(warnings == 1 ? "" : "s")}" : ""));
        }
        return FwctlApp.ExitOk;
    }
}
