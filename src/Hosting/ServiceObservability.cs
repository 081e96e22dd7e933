// What an operator sees of a running service: the gRPC health protocol (grpc.health.v1) on its gRPC port, SERVING
// once the service has started and NOT_SERVING from the moment it begins to stop; the same as HTTP on /healthz;
// and its metrics in the Prometheus text format on /metrics. The components publish their instruments through
// System.Diagnostics.Metrics only (one Meter each, named Enclave.*); this is the one place that subscribes to them
// (OpenTelemetry), together with ASP.NET Core's, Kestrel's and the runtime's own meters.
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;
using OpenTelemetry.Metrics;

namespace Enclave.Hosting;

public static class ServiceObservability
{
    /// <summary>Where the Prometheus scrape endpoint is served.</summary>
    public const string MetricsPath = "/metrics";

    /// <summary>Where the HTTP health endpoint is served (200 Healthy, 503 Unhealthy).</summary>
    public const string HealthPath = "/healthz";

    /// <summary>The meters subscribed to: every component's (Enclave.KeyBroker, Enclave.AttestationVerifier,
    /// Enclave.Aggregator, ...), and the platform's.</summary>
    public static IReadOnlyList<string> Meters { get; } =
        ["Enclave.*", "Microsoft.AspNetCore.Hosting", "Microsoft.AspNetCore.Server.Kestrel", "System.Runtime"];

    /// <summary>Registers the health checks and the metrics pipeline on <paramref name="services"/>.</summary>
    public static IServiceCollection AddServiceObservability(this IServiceCollection services)
    {
        ArgumentNullException.ThrowIfNull(services);
        services.AddSingleton<StartedHealthCheck>();
        services.AddGrpcHealthChecks().AddCheck<StartedHealthCheck>("started");
        services.AddOpenTelemetry().WithMetrics(metrics =>
        {
            foreach (string meter in Meters)
            {
                metrics.AddMeter(meter);
            }

            metrics.AddPrometheusExporter();
        });
        return services;
    }

    /// <summary>Maps grpc.health.v1, <see cref="HealthPath"/> and <see cref="MetricsPath"/> on the application
    /// (before it starts). Both are served on every listener; operators scrape the HTTP one, which asks for no
    /// client certificate.</summary>
    public static void MapServiceObservability(this IEndpointRouteBuilder app)
    {
        ArgumentNullException.ThrowIfNull(app);
        app.MapGrpcHealthChecksService();
        app.MapHealthChecks(HealthPath);
        app.MapPrometheusScrapingEndpoint(MetricsPath);
    }

    /// <summary>Healthy from the moment the host has started (so the listeners accept requests) until it begins
    /// to stop.</summary>
    private sealed class StartedHealthCheck(IHostApplicationLifetime lifetime) : IHealthCheck
    {
        public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default) =>
            Task.FromResult(
                lifetime.ApplicationStopping.IsCancellationRequested ? HealthCheckResult.Unhealthy("stopping")
                : lifetime.ApplicationStarted.IsCancellationRequested ? HealthCheckResult.Healthy("serving")
                : HealthCheckResult.Unhealthy("starting"));
    }
}
