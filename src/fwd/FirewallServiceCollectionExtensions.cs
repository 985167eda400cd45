using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace Fw.Daemon;

/// <summary>How fwd's parts are put into a host.</summary>
public static class FirewallServiceCollectionExtensions
{
    /// <summary>Connections Kestrel serves at once; more are closed as they arrive (a scraper or two, probes, a curl).</summary>
    internal const int MaxConnections = 16;

    /// <summary>How long a scrape may take, from its request to its answer.</summary>
    internal static readonly TimeSpan RequestTimeout = TimeSpan.FromSeconds(10);

    /// <summary>
    /// The firewall: options (validated at start), the hosted service that attaches in StartAsync and
    /// reloads on file changes and SIGHUP, and systemd readiness.
    /// </summary>
    public static IServiceCollection AddFirewall(this IServiceCollection services, Action<FwdOptions> configure)
    {
        services.AddOptions<FwdOptions>().Configure(configure).ValidateOnStart();
        services.AddSingleton<IValidateOptions<FwdOptions>, FwdOptionsValidator>();
        services.TryAddSingleton<DaemonStatus>();
        services.AddSingleton<SystemdNotifier>();
        services.AddHostedService<FirewallService>();
        services.AddHostedService<SystemdLifetime>();   // after FirewallService: READY=1 once the data plane is live
        return services;
    }

    /// <summary>
    /// Prometheus text from the pinned counters; Kestrel listens on the --metrics address only, HTTP/1.1, with small
    /// limits: a few connections at once, a few seconds to send the headers, no request body, small headers.
    /// fwd runs as root on the machine it protects; whoever reaches the port must not be able to make it work hard.
    /// </summary>
    public static IServiceCollection AddFirewallMetrics(this IServiceCollection services)
    {
        services.TryAddSingleton<DaemonStatus>();
        services.AddSingleton<FirewallMetrics>();
        services.AddOptions<KestrelServerOptions>().Configure<IOptions<FwdOptions>>((kestrel, fwd) =>
        {
            var limits = kestrel.Limits;
            limits.MaxConcurrentConnections = MaxConnections;
            limits.MaxConcurrentUpgradedConnections = 0;
            limits.MaxRequestBodySize = 0;
            limits.MaxRequestLineSize = 2 * 1024;
            limits.MaxRequestHeadersTotalSize = 8 * 1024;
            limits.MaxRequestHeaderCount = 32;
            limits.RequestHeadersTimeout = TimeSpan.FromSeconds(5);
            limits.KeepAliveTimeout = TimeSpan.FromSeconds(20);
            limits.MaxResponseBufferSize = 1024 * 1024;
            // A reader slower than this (after 5 s) is cut off: it cannot hold a connection for minutes.
            limits.MinResponseDataRate = new MinDataRate(bytesPerSecond: 4096, gracePeriod: TimeSpan.FromSeconds(5));
            kestrel.AllowSynchronousIO = false;
            kestrel.Listen(fwd.Value.MetricsEndpoint ?? throw new InvalidOperationException("--metrics: no valid endpoint"),
                listen => listen.Protocols = HttpProtocols.Http1);
        });
        return services;
    }

    /// <summary>
    /// GET (or HEAD) /metrics, that path exactly; everything else is 404 (other methods on /metrics 405). Kestrel
    /// starts before the firewall service: until the data plane is live /metrics answers 503, so a readiness probe
    /// on it means what READY=1 means. A wildcard address is warned about here, before the server listens.
    /// </summary>
    public static IApplicationBuilder MapFirewallMetrics(this IApplicationBuilder app)
    {
        var metrics = app.ApplicationServices.GetRequiredService<FirewallMetrics>();
        var status = app.ApplicationServices.GetRequiredService<DaemonStatus>();
        var options = app.ApplicationServices.GetRequiredService<IOptions<FwdOptions>>().Value;
        var log = app.ApplicationServices.GetRequiredService<ILoggerFactory>().CreateLogger("Fw.Daemon.Metrics");
        if (options.MetricsEndpoint is { } ep && FwdOptions.IsWildcard(ep))
        {
            log.LogWarning("--metrics {Endpoint}: a wildcard address: the counters (rules, interfaces, traffic) are reachable " +
                "from every network this host is on; give the one address they are for (e.g. 127.0.0.1:{Port}, or the " +
                "node's address)", ep, ep.Port);
        }
        app.Run(async ctx =>
        {
            if (!string.Equals(ctx.Request.Path.Value, "/metrics", StringComparison.Ordinal) || ctx.Request.PathBase.HasValue)
            {
                ctx.Response.StatusCode = StatusCodes.Status404NotFound;
                return;
            }
            if (!HttpMethods.IsGet(ctx.Request.Method) && !HttpMethods.IsHead(ctx.Request.Method))
            {
                ctx.Response.StatusCode = StatusCodes.Status405MethodNotAllowed;
                ctx.Response.Headers.Allow = "GET, HEAD";
                return;
            }
            if (status.LastReloadAt is null)
            {
                ctx.Response.StatusCode = StatusCodes.Status503ServiceUnavailable;
                await ctx.Response.WriteAsync("fwd is starting: the data plane is not live yet\n", ctx.RequestAborted);
                return;
            }
            // The whole answer within RequestTimeout; then the connection goes.
            using var deadline = CancellationTokenSource.CreateLinkedTokenSource(ctx.RequestAborted);
            deadline.CancelAfter(RequestTimeout);
            try
            {
                string text;
                try
                {
                    text = await metrics.CurrentAsync().WaitAsync(deadline.Token);
                }
                catch (OperationCanceledException) when (!ctx.RequestAborted.IsCancellationRequested)
                {
                    ctx.Response.StatusCode = StatusCodes.Status503ServiceUnavailable;
                    return;   // the read under way goes on and serves the next scrape
                }
                byte[] body = System.Text.Encoding.UTF8.GetBytes(text);
                ctx.Response.ContentType = Prometheus.PrometheusConstants.TextContentTypeWithVersionAndEncoding;
                ctx.Response.ContentLength = body.Length;
                if (!HttpMethods.IsHead(ctx.Request.Method))
                    await ctx.Response.Body.WriteAsync(body, deadline.Token);
            }
            catch (OperationCanceledException)
            {
                ctx.Abort();
            }
        });
        return app;
    }
}
