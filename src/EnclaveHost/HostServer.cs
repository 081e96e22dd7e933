// Starts a regional host: a gRPC server on loopback (HTTP/2 cleartext) in front of one enclave process.
using Enclave.Protocol.Broker;
using Enclave.Protocol.Verifier;
using Grpc.Net.Client;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Enclave.EnclaveHost;

public static class HostServer
{
    public static WebApplication Build(HostOptions options, Action<ILoggingBuilder>? logging = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        WebApplicationBuilder builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.Logging.AddSimpleConsole(o => { o.SingleLine = true; o.TimestampFormat = "HH:mm:ss "; });
        logging?.Invoke(builder.Logging);
        builder.WebHost.ConfigureKestrel(k => k.Listen(System.Net.IPAddress.Parse(options.ListenAddress), options.Port, l => l.Protocols = HttpProtocols.Http2));
        builder.Services.AddGrpc(o => o.MaxReceiveMessageSize = 128 * 1024 * 1024);
        builder.Services.AddSingleton(options);
        builder.Services.AddSingleton(_ => GrpcChannel.ForAddress(options.VerifierGrpc, new GrpcChannelOptions { MaxReceiveMessageSize = 64 * 1024 * 1024 }));
        builder.Services.AddSingleton(sp => new EnclaveProcess(
            options,
            new AttestationVerifier.AttestationVerifierClient(sp.GetRequiredService<GrpcChannel>()),
            new KeyBroker.KeyBrokerClient(GrpcChannel.ForAddress(options.Broker)),
            new HttpClient { Timeout = TimeSpan.FromSeconds(30) },
            sp.GetRequiredService<ILoggerFactory>().CreateLogger("Enclave.Host")));
        WebApplication app = builder.Build();
        app.MapGrpcService<RegionHostService>();
        return app;
    }
}
