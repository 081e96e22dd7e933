// Starts a regional host: a gRPC server on loopback (HTTP/2 cleartext) in front of one enclave process.
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
        WebApplicationBuilder builder = ServiceHost.CreateBuilder(options.ListenAddress, options.Port, null, 128 * 1024 * 1024, logging);
        builder.Services.AddSingleton(options);
        builder.Services.AddSingleton(_ => GrpcChannel.ForAddress(options.VerifierGrpc, new GrpcChannelOptions { MaxReceiveMessageSize = 64 * 1024 * 1024 }));
        builder.Services.AddSingleton(sp => new EnclaveProcess(
            options,
            new AttestationVerifier.AttestationVerifierClient(sp.GetRequiredService<GrpcChannel>()),
            new KeyBroker.KeyBrokerClient(GrpcChannel.ForAddress(options.Broker)),
            sp.GetRequiredService<ILoggerFactory>().CreateLogger("Enclave.Host")));
        WebApplication app = builder.Build();
        app.MapGrpcService<RegionHostService>();
        return app;
    }
}
