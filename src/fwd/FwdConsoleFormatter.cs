using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Logging.Console;
using Microsoft.Extensions.Options;

namespace Fw.Daemon;

public sealed class FwdConsoleFormatterOptions : ConsoleFormatterOptions
{
    /// <summary>
    /// journald format: no timestamp (the journal adds one) and an sd-daemon "&lt;N&gt;" priority on every
    /// line. Default: on when systemd connected stdout to the journal (JOURNAL_STREAM is set).
    /// </summary>
    public bool? Journal { get; set; }
}

/// <summary>
/// One line per event, `2026-01-02T03:04:05.678Z info  attach fw0: generation 1, ...`; a message that
/// carries diagnostics continues on the following lines exactly as `fwctl check` prints them. fwd's own
/// categories are left out (there is one daemon); other categories (Kestrel, hosting) are shown.
/// </summary>
public sealed class FwdConsoleFormatter : ConsoleFormatter
{
    public const string FormatterName = "fwd";

    private readonly bool _journal;

    public FwdConsoleFormatter(IOptions<FwdConsoleFormatterOptions> options)
        : base(FormatterName)
    {
        _journal = options.Value.Journal ?? !string.IsNullOrEmpty(Environment.GetEnvironmentVariable("JOURNAL_STREAM"));
    }

    public override void Write<TState>(in LogEntry<TState> entry, IExternalScopeProvider? scopeProvider, TextWriter w)
    {
        string message = entry.Formatter?.Invoke(entry.State, entry.Exception) ?? "";
        if (entry.Exception is not null && entry.Exception is not FwdStartException)
            message = message.Length == 0 ? entry.Exception.ToString() : message + "\n" + entry.Exception;
        if (message.Length == 0)
            return;
        if (!entry.Category.StartsWith("Fw.", StringComparison.Ordinal))
            message = $"{entry.Category}: {message}";
        // Nothing raw reaches the journal or a terminal: a control byte from a rules file or a path shows as \uXXXX.
        var lines = Fw.Rules.Printable.CleanLines(message.ReplaceLineEndings("\n")).Split('\n');
        if (_journal)
        {
            string prefix = $"<{Priority(entry.LogLevel)}>";
            foreach (string line in lines)
                w.Write(prefix + line + "\n");
            return;
        }
        w.Write($"{DateTime.UtcNow:yyyy-MM-ddTHH:mm:ss.fffZ} {Level(entry.LogLevel),-5} {lines[0]}\n");
        for (int i = 1; i < lines.Length; i++)
            w.Write(lines[i] + "\n");
    }

    private static string Level(LogLevel l) => l switch
    {
        LogLevel.Trace => "trace",
        LogLevel.Debug => "debug",
        LogLevel.Information => "info",
        LogLevel.Warning => "warn",
        LogLevel.Error => "error",
        _ => "crit",
    };

    /// <summary>syslog priorities as sd-daemon(3) reads them.</summary>
    private static int Priority(LogLevel l) => l switch
    {
        LogLevel.Trace or LogLevel.Debug => 7,
        LogLevel.Information => 6,
        LogLevel.Warning => 4,
        LogLevel.Error => 3,
        _ => 2,
    };
}
