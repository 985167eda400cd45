using System.Net;
using Microsoft.Extensions.Options;

namespace Fw.Daemon;

/// <summary>What fwd was asked to do: its command line, checked by <see cref="FwdOptionsValidator"/> at start.</summary>
public sealed class FwdOptions
{
    /// <summary>The rules file as given (diagnostics name it so, as fwctl check does).</summary>
    public string RulesPath { get; set; } = "";

    /// <summary>ADDR:PORT to serve Prometheus text at /metrics; null: no HTTP server at all.</summary>
    public string? Metrics { get; set; }

    /// <summary>Detach every interface fwd manages when it stops (default: the filter stays).</summary>
    public bool DetachOnExit { get; set; }

    /// <summary>How long file events must be quiet before the file is read again.</summary>
    public TimeSpan Debounce { get; set; } = TimeSpan.FromMilliseconds(100);

    /// <summary>
    /// How often fwd checks that every interface it manages is still filtered (<see cref="Fw.Kernel.Firewall.StateOf"/>:
    /// one pinned link opened, no lock taken), so that an interface deleted and created again is attached again
    /// within a second.
    /// </summary>
    public TimeSpan WatchInterval { get; set; } = TimeSpan.FromMilliseconds(250);

    /// <summary>The metrics endpoint, parsed; only valid after validation.</summary>
    public IPEndPoint? MetricsEndpoint => Metrics is null ? null : ParseEndpoint(Metrics, out _);

    /// <summary>ADDR:PORT with a literal address (127.0.0.1:9464, [::1]:9464) and a port 1-65535.</summary>
    public static IPEndPoint? ParseEndpoint(string text, out string? problem)
    {
        problem = null;
        if (!IPEndPoint.TryParse(text, out var ep) || !text.Contains(':') || (ep.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 && !text.StartsWith('[')))
        {
            problem = $"--metrics '{text}': expected ADDR:PORT with a literal IP address, e.g. 127.0.0.1:9464 or [::1]:9464";
            return null;
        }
        if (ep.Port == 0)
        {
            problem = $"--metrics '{text}': the port must be 1-65535";
            return null;
        }
        return ep;
    }
}

/// <summary>Options are checked when the host starts, before anything touches the kernel.</summary>
public sealed class FwdOptionsValidator : IValidateOptions<FwdOptions>
{
    public ValidateOptionsResult Validate(string? name, FwdOptions o)
    {
        var failures = new List<string>();
        if (string.IsNullOrWhiteSpace(o.RulesPath))
            failures.Add("--rules FILE is required");
        else if (Directory.Exists(o.RulesPath))
            failures.Add($"--rules {o.RulesPath}: is a directory, expected the rules file (rules.yaml)");
        else if (!File.Exists(o.RulesPath))
            failures.Add($"--rules {o.RulesPath}: no such file");
        if (o.Metrics is not null && FwdOptions.ParseEndpoint(o.Metrics, out string? problem) is null)
            failures.Add(problem!);
        if (o.Debounce < TimeSpan.Zero || o.Debounce > TimeSpan.FromSeconds(10))
            failures.Add("debounce must be between 0 and 10 seconds");
        if (o.WatchInterval < TimeSpan.FromMilliseconds(10) || o.WatchInterval > TimeSpan.FromSeconds(10))
            failures.Add("the watch interval must be between 10 ms and 10 seconds");
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
