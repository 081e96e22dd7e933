// Starts the coordinator: a gRPC server on loopback that runs rounds across the configured regional hosts.
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
        WebApplicationBuilder builder = ServiceHost.CreateBuilder(options.ListenAddress, options.Port, null, 4 * 1024 * 1024, logging);
        builder.Services.AddSingleton(sp =>
        {
            var channelOptions = new GrpcChannelOptions { MaxReceiveMessageSize = 128 * 1024 * 1024, MaxSendMessageSize = 128 * 1024 * 1024 };
            var hosts = options.Hosts.ToDictionary(h => h.Region, h => new RegionHost.RegionHostClient(GrpcChannel.ForAddress(h.Address, channelOptions)), StringComparer.Ordinal);
            KeyBroker.KeyBrokerClient? broker = options.Broker is null ? null : new KeyBroker.KeyBrokerClient(GrpcChannel.ForAddress(options.Broker));
            return new RoundCoordinator(options, hosts, broker, sp.GetRequiredService<ILoggerFactory>().CreateLogger("Enclave.Aggregator"));
        });
        WebApplication app = builder.Build();
        app.Services.GetRequiredService<RoundCoordinator>();
        app.MapGrpcService<CoordinatorService>();
        return app;
    }
}
