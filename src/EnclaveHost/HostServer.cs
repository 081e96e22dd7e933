// Starts a regional host: a gRPC server (mutual TLS with the coordinator) in front of one enclave process.
using Enclave.Protocol.Broker;
using Enclave.Protocol.Verifier;
using Grpc.Net.Client;
using Enclave.Hosting;
using Enclave.Protocol;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Enclave.EnclaveHost;

public static class HostServer
{
    public static WebApplication Build(HostOptions options, Action<ILoggingBuilder>? logging = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        // The coordinator is the host's only caller, and must present a certificate of the deployment CA.
        WebApplicationBuilder builder = ServiceHost.CreateBuilder(options.ListenAddress, options.Port, options.MetricsPort, 128 * 1024 * 1024, options.Tls, requireClientCertificate: options.Tls is not null, logging);
        builder.Services.AddSingleton(options);
        builder.Services.AddSingleton(_ => ServiceHost.CreateChannel(options.VerifierGrpc, options.Tls));
        builder.Services.AddSingleton(sp => new EnclaveProcess(
            options,
            new AttestationVerifier.AttestationVerifierClient(sp.GetRequiredService<GrpcChannel>()),
            new KeyBroker.KeyBrokerClient(ServiceHost.CreateChannel(options.Broker, options.Tls)),
            sp.GetRequiredService<ILoggerFactory>().CreateLogger("Enclave.Host")));
        WebApplication app = builder.Build();
        app.MapGrpcService<RegionHostService>();
        return app;
    }
}
