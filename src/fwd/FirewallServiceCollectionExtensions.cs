using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace Fw.Daemon;

/// <summary>How fwd's parts are put into a host.</summary>
public static class FirewallServiceCollectionExtensions
{
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

    /// <summary>Prometheus text from the pinned counters; Kestrel listens on the --metrics address only.</summary>
    public static IServiceCollection AddFirewallMetrics(this IServiceCollection services)
    {
        services.TryAddSingleton<DaemonStatus>();
        services.AddSingleton<FirewallMetrics>();
        services.AddOptions<KestrelServerOptions>().Configure<IOptions<FwdOptions>>((kestrel, fwd) =>
            kestrel.Listen(fwd.Value.MetricsEndpoint ?? throw new InvalidOperationException("--metrics: no valid endpoint")));
        return services;
    }

    /// <summary>
    /// GET /metrics; everything else is 404. Kestrel starts before the firewall service: until the data
    /// plane is live /metrics answers 503, so a readiness probe on it means what READY=1 means.
    /// </summary>
    public static IApplicationBuilder MapFirewallMetrics(this IApplicationBuilder app)
    {
        var metrics = app.ApplicationServices.GetRequiredService<FirewallMetrics>();
        var status = app.ApplicationServices.GetRequiredService<DaemonStatus>();
        app.Map("/metrics", m => m.Run(async ctx =>
        {
            if (!HttpMethods.IsGet(ctx.Request.Method) && !HttpMethods.IsHead(ctx.Request.Method))
            {
                ctx.Response.StatusCode = StatusCodes.Status405MethodNotAllowed;
                return;
            }
            if (status.LastReloadAt is null)
            {
                ctx.Response.StatusCode = StatusCodes.Status503ServiceUnavailable;
                await ctx.Response.WriteAsync("fwd is starting: the data plane is not live yet\n", ctx.RequestAborted);
                return;
            }
            string text = await Task.Run(metrics.Render, ctx.RequestAborted);
            ctx.Response.ContentType = PrometheusText.ContentType;
            await ctx.Response.WriteAsync(text, ctx.RequestAborted);
        }));
        app.Run(ctx =>
        {
            ctx.Response.StatusCode = StatusCodes.Status404NotFound;
            return Task.CompletedTask;
        });
        return app;
    }
}
