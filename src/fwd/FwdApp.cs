using System.CommandLine;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Fw.Daemon;

/// <summary>fwd's command line: parses the flags, builds the host and runs it until SIGTERM or SIGINT.</summary>
public static class FwdApp
{
    public const int ExitOk = 0;
    public const int ExitFailure = 1;
    public const int ExitUsage = 2;

    private static readonly Option<string> RulesOption = new("--rules")
    {
        Description = "The rules file; fwd attaches it to the interfaces it names (interfaces: [...])",
        Required = true,
    };

    private static readonly Option<string?> MetricsOption = new("--metrics")
    {
        Description = "Serve Prometheus text at http://ADDR:PORT/metrics, bound to that address only (e.g. 127.0.0.1:9464)",
    };

    private static readonly Option<bool> DetachOnExitOption = new("--detach-on-exit")
    {
        Description = "Detach when fwd stops (default: the filter stays in place, an appliance must not fail open)",
    };

    public static async Task<int> RunAsync(string[] args, TextWriter stdout, TextWriter stderr)
    {
        var root = new RootCommand(
            "fwd: the fw daemon. Attaches the ruleset to the interfaces the rules file names, reloads it when the\n" +
            "file changes (or on SIGHUP), and leaves the filter in place when it stops.\n" +
            "Exit codes: 0 stopped cleanly, 1 failure, 2 usage error or invalid rules.")
        {
            RulesOption,
            MetricsOption,
            DetachOnExitOption,
        };
        root.SetAction((parse, ct) => RunHostAsync(new FwdOptions
        {
            RulesPath = parse.GetValue(RulesOption)!,
            Metrics = parse.GetValue(MetricsOption),
            DetachOnExit = parse.GetValue(DetachOnExitOption),
        }, stderr));

        var parse = root.Parse(args);
        if (parse.Errors.Count > 0)
        {
            foreach (var e in parse.Errors)
                stderr.WriteLine($"fwd: {e.Message}");
            stderr.WriteLine("Try 'fwd --help'.");
            return ExitUsage;
        }
        // The host handles SIGTERM and SIGINT itself (it must stop cleanly, not be cancelled).
        var config = new InvocationConfiguration { Output = stdout, Error = stderr, ProcessTerminationTimeout = null };
        return await parse.InvokeAsync(config);
    }

    private static async Task<int> RunHostAsync(FwdOptions options, TextWriter stderr)
    {
        try
        {
            using var host = Build(options);
            await host.RunAsync();
            return ExitOk;
        }
        catch (OptionsValidationException e)
        {
            foreach (string f in e.Failures)
                stderr.WriteLine($"fwd: {f}");
            return ExitUsage;
        }
        catch (FwdStartException e)
        {
            // The daemon has logged what went wrong (diagnostics included).
            return e.ExitCode;
        }
        catch (Exception e) when (e is IOException or System.Net.Sockets.SocketException or UnauthorizedAccessException)
        {
            stderr.WriteLine($"fwd: {e.Message}");   // e.g. the metrics port is taken
            return ExitFailure;
        }
        catch (Exception e)
        {
            stderr.WriteLine($"fwd: {e}");
            return ExitFailure;
        }
    }

    /// <summary>
    /// One generic host: the firewall service, systemd notification and, only with --metrics, Kestrel.
    /// Kestrel starts first, so a port already taken fails fwd before anything touches the kernel.
    /// </summary>
    public static IHost Build(FwdOptions options)
    {
        var builder = new HostBuilder()
            .ConfigureAppConfiguration(c => c.AddEnvironmentVariables())
            .ConfigureLogging((ctx, logging) =>
            {
                logging.AddConfiguration(ctx.Configuration.GetSection("Logging"));
                logging.SetMinimumLevel(LogLevel.Information);
                logging.AddFilter("Microsoft", LogLevel.Warning);
                // "Hosting failed to start" and its stack: fwd reports the cause itself (RunHostAsync, FirewallService).
                logging.AddFilter("Microsoft.Extensions.Hosting.Internal.Host", LogLevel.Critical);
                logging.AddConsole(o => o.FormatterName = FwdConsoleFormatter.FormatterName);
                logging.AddConsoleFormatter<FwdConsoleFormatter, FwdConsoleFormatterOptions>();
            })
            .ConfigureServices(services => services.Configure<ConsoleLifetimeOptions>(o => o.SuppressStatusMessages = true))
            .UseConsoleLifetime();
        if (options.Metrics is not null)
        {
            builder.ConfigureWebHost(web => web
                .UseKestrel(k => k.AddServerHeader = false)
                .ConfigureServices(services => services.AddFirewallMetrics())
                .Configure(app => app.MapFirewallMetrics()));
        }
        builder.ConfigureServices(services => services.AddFirewall(o =>
        {
            o.RulesPath = options.RulesPath;
            o.Metrics = options.Metrics;
            o.DetachOnExit = options.DetachOnExit;
            o.Debounce = options.Debounce;
        }));
        return builder.Build();
    }
}

/// <summary>Start failed after the daemon logged why; the process exits with <see cref="ExitCode"/>.</summary>
public sealed class FwdStartException(int exitCode, string message) : Exception(message)
{
    public int ExitCode { get; } = exitCode;
}
