using System.CommandLine;
using System.Text.Json;
using Fw.Compiler;
using Fw.Kernel;
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
        var result = RulesCheck.Check(path, Classifier.ResolveInterface);
        var diagnostics = result.Diagnostics;
        DiagnosticWriter.Write(stderr, diagnostics);
        if (!result.Ok)
        {
            int errors = diagnostics.Count(d => d.Severity == Severity.Error);
            if (json)
            {
                WriteJson(stdout, new Dictionary<string, object?>
                {
                    ["error"] = $"{path}: {errors} error{(errors == 1 ? "" : "s")}",
                    ["diagnostics"] = diagnostics.Select(ToJson).ToList(),
                });
            }
            else
            {
                stderr.WriteLine($"{path}: {errors} error{(errors == 1 ? "" : "s")}, nothing loaded");
            }
            return FwctlApp.ExitUsage;
        }

        var rs = result.Ruleset!;
        if (json)
        {
            WriteJson(stdout, new Dictionary<string, object?>
            {
                ["file"] = path,
                ["valid"] = true,
                ["rules"] = rs.Rules.Count,
                ["prefixes"] = rs.PrefixCount,
                ["sets"] = rs.Sets.Count,
                ["classes"] = result.Image!.ClassCount,
                ["digest"] = result.Image.Digest(),
                ["warnings"] = diagnostics.Where(d => d.Severity == Severity.Warning).Select(ToJson).ToList(),
            });
        }
        else
        {
            int warnings = diagnostics.Count(d => d.Severity == Severity.Warning);
            stdout.WriteLine($"{path}: ok: {rs.Rules.Count:N0} rules, {rs.PrefixCount:N0} prefixes, {rs.Sets.Count:N0} sets" +
                (warnings > 0 ? $", {warnings} warning{(warnings == 1 ? "" : "s")}" : ""));
        }
        return FwctlApp.ExitOk;
    }

    internal static Dictionary<string, object?> ToJson(Diagnostic d) => new()
    {
        ["severity"] = d.Severity == Severity.Error ? "error" : "warning",
        ["file"] = d.Pos.File,
        ["line"] = d.Pos.Line,
        ["column"] = d.Pos.Column,
        ["message"] = d.Message,
    };

    private static readonly JsonSerializerOptions s_json = new()
    {
        WriteIndented = true,
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    internal static void WriteJson(TextWriter w, object value) => w.WriteLine(JsonSerializer.Serialize(value, s_json));
}
