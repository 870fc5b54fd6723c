using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Diagnostics.HealthChecks;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Logging;
using Orleans.Dashboard;
using OpenTelemetry.Exporter;
using OpenTelemetry.Metrics;
using OpenTelemetry.Trace;
using Pyralog.Silo.Hosting;

namespace Pyralog.Silo.Http;

/// <summary>
/// The silo's one HTTP endpoint (<see cref="SiloHostOptions.HttpAddress"/>:<see cref="SiloHostOptions.HttpPort"/>):
/// Prometheus metrics at <c>/metrics</c> (unless <see cref="SiloHostOptions.Metrics"/> is off), health at <c>/health/live</c> and <c>/health/ready</c>, the Orleans dashboard
/// at <c>/dashboard</c> and Pyralog's page at <c>/pyralog</c> (both unless <see cref="SiloHostOptions.Dashboard"/> is off).
/// </summary>
internal static class SiloHttpEndpoint
{
    public const string ReadyTag = "ready";

    /// <summary>Meters exported: Orleans' own, the .NET runtime's (added by its instrumentation) and Pyralog's.</summary>
    public static readonly string[] Meters = ["Microsoft.Orleans", "Pyralog.*"];

    /// <summary>Orleans' instruments updated on every grain message or request (wildcards), left out unless <see cref="SiloHostOptions.OrleansMessagingMetrics"/>.</summary>
    public static readonly string[] OrleansPerMessageInstruments =
        ["orleans-messaging-*", "orleans-gateway-*", "orleans-app-requests-*", "orleans-directory-lookups-*"];

    /// <summary>Activity sources traced: Orleans' grain calls (with activity propagation on) and Pyralog's.</summary>
    public static readonly string[] ActivitySources = ["Microsoft.Orleans.Runtime", "Microsoft.Orleans.Application", "Pyralog.*"];

    public static void AddServices(WebApplicationBuilder builder, SiloHostOptions host)
    {
        var address = IPAddress.Parse(host.HttpAddress);
        builder.WebHost.UseKestrel(o => o.Listen(address, host.HttpPort));
        if (host.JsonLogs)
        {
            builder.Logging.ClearProviders();
            builder.Logging.AddJsonConsole(o =>
            {
                o.IncludeScopes = true;
                o.TimestampFormat = "O";
                o.UseUtcTimestamp = true;
            });
        }

        // ASP.NET Core's own request logs would drown a silo's at Information.
        builder.Logging.AddFilter("Microsoft.AspNetCore", LogLevel.Warning);
        builder.Services.AddHealthChecks()
            .AddCheck<StoreHealthCheck>("store", tags: [ReadyTag])
            .AddCheck<MembershipHealthCheck>("membership", tags: [ReadyTag])
            .AddCheck<MetadataGroupHealthCheck>("metadata", tags: [ReadyTag]);
        builder.Services.AddSingleton<MetadataGroupHealthCheck>();
        builder.Services.AddSingleton<ClusterOverview>();

        var telemetry = builder.Services.AddOpenTelemetry();
        if (host.Metrics)
        {
            telemetry.WithMetrics(metrics =>
            {
                metrics.AddMeter(Meters).AddRuntimeInstrumentation().AddPrometheusExporter().AddPartitionSeriesLimit(host.PartitionMetricSeries);
                if (!host.OrleansMessagingMetrics)
                {
                    // A dropped instrument is not enabled at all, so Orleans skips its per-message work.
                    foreach (var perMessage in OrleansPerMessageInstruments)
                    {
                        metrics.AddView(perMessage, MetricStreamConfiguration.Drop);
                    }
                }
                if (host.OtlpEndpoint is { } otlp)
                {
                    metrics.AddOtlpExporter(o => o.Endpoint = new Uri(otlp));
                }
            });
        }

        if (host.OtlpEndpoint is { } endpoint)
        {
            telemetry.WithTracing(tracing => tracing
                .AddSource(ActivitySources)
                .AddOtlpExporter(o =>
                {
                    o.Endpoint = new Uri(endpoint);
                    o.Protocol = OtlpExportProtocol.Grpc;
                }));
        }
    }

    public static void Map(WebApplication app, SiloHostOptions host)
    {
        if (host.Metrics)
        {
            app.MapPrometheusScrapingEndpoint("/metrics");
        }

        // Live: the process answers. Ready: the store recovered, this silo is active in membership, the metadata group answers.
        app.MapHealthChecks("/health/live", new HealthCheckOptions { Predicate = _ => false });
        app.MapHealthChecks("/health/ready", new HealthCheckOptions
        {
            Predicate = check => check.Tags.Contains(ReadyTag),
            ResponseWriter = HealthReportJson.WriteAsync,
        });
        if (host.Dashboard)
        {
            app.MapOrleansDashboard(routePrefix: "/dashboard");
            PyralogPage.Map(app);
            app.MapGet("/", () => Microsoft.AspNetCore.Http.Results.Redirect("/pyralog"));
        }
    }
}
