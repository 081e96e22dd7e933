// Starts the coordinator: a gRPC server (mutual TLS) that runs rounds across the configured regional hosts.
using Enclave.Aggregator.Rounds;
using Enclave.Protocol.Broker;
using Enclave.Protocol.Round;
using Grpc.Net.Client;
using Enclave.Hosting;
using Enclave.Protocol;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Enclave.Aggregator;

public static class AggregatorServer
{
    public static WebApplication Build(CoordinatorOptions options, Action<ILoggingBuilder>? logging = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        WebApplicationBuilder builder = ServiceHost.CreateBuilder(options.ListenAddress, options.Port, options.MetricsPort, 4 * 1024 * 1024, options.Tls, requireClientCertificate: options.Tls is not null, logging);
        builder.Services.AddSingleton(sp =>
        {
            var hosts = options.Hosts.ToDictionary(h => h.Region, h => new RegionHost.RegionHostClient(ServiceHost.CreateChannel(h.Address, options.Tls, 128 * 1024 * 1024)), StringComparer.Ordinal);
            KeyBroker.KeyBrokerClient? broker = options.Broker is null ? null : new KeyBroker.KeyBrokerClient(ServiceHost.CreateChannel(options.Broker, options.Tls));
            return new RoundCoordinator(options, hosts, broker, sp.GetRequiredService<ILoggerFactory>().CreateLogger("Enclave.Aggregator"));
        });
        WebApplication app = builder.Build();
        app.Services.GetRequiredService<RoundCoordinator>();
        app.MapGrpcService<CoordinatorService>();
        return app;
    }
}
