using System.Text.Json;
using Fw.Bpf;
using Fw.Kernel;
using Fw.Rules;

namespace Fw.Cli;

/// <summary>
/// How every fwctl command writes: JSON on stdout, errors as one "fwctl: ..." line on stderr (and {"error"} on
/// stdout in JSON mode), diagnostics as `fwctl check` prints them, and what to run when the interface's state
/// is the problem (the kernel layer says what it found; the hints naming fwctl commands are added here).
/// Every error text goes through <see cref="Printable"/>: a path, an interface name or a kernel log quoted in
/// it never sends a control character (ESC, BEL, CR, CSI) to the terminal.
/// </summary>
internal static class Output
{
    private static readonly JsonSerializerOptions s_json = new()
    {
        WriteIndented = true,
        Encoder = System.Text.Encodings.Web.JavaScriptEncoder.UnsafeRelaxedJsonEscaping,
    };

    public static void WriteJson(TextWriter w, object value) => w.WriteLine(JsonSerializer.Serialize(value, s_json));

    private static readonly JsonSerializerOptions s_jsonLine = new(s_json) { WriteIndented = false };

    /// <summary>One JSON object on one line (JSON Lines: a stream of records, as fwctl log --json writes).</summary>
    public static void WriteJsonLine(TextWriter w, object value) => w.WriteLine(JsonSerializer.Serialize(value, s_jsonLine));

    public static Dictionary<string, object?> ToJson(Diagnostic d) => new()
    {
        ["severity"] = d.Severity == Severity.Error ? "error" : "warning",
        ["file"] = d.Pos.File,
        ["line"] = d.Pos.Line,
        ["column"] = d.Pos.Column,
        ["message"] = d.Message,
    };

    /// <summary>Runs a command body; kernel and IO failures become one clear line (and {"error"} in JSON), exit 1.</summary>
    public static int Run(bool json, TextWriter stdout, TextWriter stderr, Func<int> body)
    {
        try
        {
            return body();
        }
        catch (Exception e) when (e is BpfException or FirewallException or IOException or UnauthorizedAccessException or RulesException)
        {
            string message = WithHint(e);   // printable: WithHint cleans it
            stderr.WriteLine($"fwctl: {message}");
            if (json)
                WriteJson(stdout, new Dictionary<string, object?> { ["error"] = message.Split('\n')[0] });
            return FwctlApp.ExitFailure;
        }
    }

    /// <summary>An error: "fwctl: msg" (and any extra lines) on stderr; in JSON mode also {"error": msg, ...} on stdout.</summary>
    public static int Fail(bool json, TextWriter stdout, TextWriter stderr, int exit, string message,
        IEnumerable<string>? extra = null, Dictionary<string, object?>? fields = null)
    {
        message = Printable.CleanLines(message);
        stderr.WriteLine($"fwctl: {message}");
        foreach (string line in extra ?? [])
            stderr.WriteLine(Printable.CleanLines(line));
        if (json)
        {
            var obj = new Dictionary<string, object?> { ["error"] = message.Split('\n')[0].TrimEnd() };
            foreach (var (k, v) in fields ?? [])
                obj[k] = v;
            WriteJson(stdout, obj);
        }
        return exit;
    }

    /// <summary>The error's message and, for a state of the interface, the fwctl command that changes it; printable (lines kept).</summary>
    public static string WithHint(Exception e)
    {
        if (e is not FirewallException f)
            return Printable.CleanLines(e.Message);
        string hint = f.Error switch
        {
            FirewallError.AlreadyAttached => " (use fwctl reload to change its rules)",
            FirewallError.NotAttached when f.Operation == "reload" => " (use fwctl attach)",
            FirewallError.NotAttached when f.Operation == "trace" => $" (fwctl attach {f.Interface} --rules FILE)",
            FirewallError.Defunct => $"; fwctl attach {f.Interface} --rules FILE attaches it again",
            FirewallError.OtherBuild => ", and a reload (fwctl reload IFACE --rules FILE) rebuilds it with this one",
            FirewallError.Inconsistent => "; detach and attach again",
            _ => "",
        };
        return Printable.CleanLines(f.Message + hint);
    }
}
