// The one way every service starts: an ASP.NET Core slim host with one-line console logs, gRPC over cleartext
// HTTP/2 on one port and, where an ecosystem expects it, HTTP/1.1 JSON on another. The ports are bound before the
// host is built (see ServiceListener), so a port of 0 is safe to ask for and its number is known up front.
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Enclave.Hosting;

public static class ServiceHost
{
    /// <summary>A builder listening on <paramref name="listenAddress"/>: gRPC on <paramref name="grpcPort"/> and,
    /// when given, HTTP/1.1 on <paramref name="httpPort"/>. A port of 0 is bound to a free port at once; read the
    /// ports from <see cref="ServiceEndpoints"/> in the built application's services.</summary>
    /// <exception cref="PortUnavailableException">A port cannot be bound.</exception>
    public static WebApplicationBuilder CreateBuilder(
        string listenAddress, int grpcPort, int? httpPort, int maxMessageBytes, Action<ILoggingBuilder>? logging = null)
    {
        ServiceListener grpc = ServiceListener.Bind(listenAddress, grpcPort);
        ServiceListener? http = null;
        try
        {
            if (httpPort is { } port)
            {
                http = ServiceListener.Bind(listenAddress, port);
            }
        }
        catch
        {
            grpc.Dispose();
            throw;
        }

        return CreateBuilder(new ServiceEndpoints(grpc, http), maxMessageBytes, logging);
    }

    /// <summary>A builder serving on listeners already bound; the built application takes ownership of them.</summary>
    public static WebApplicationBuilder CreateBuilder(ServiceEndpoints endpoints, int maxMessageBytes, Action<ILoggingBuilder>? logging = null)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        WebApplicationBuilder builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.Logging.AddSimpleConsole(o =>
        {
            o.SingleLine = true;
            o.TimestampFormat = "HH:mm:ss ";
        });
        logging?.Invoke(builder.Logging);

        // Registered through a factory so that the container, which then owns the instance, closes the sockets when
        // the application is disposed; Kestrel resolves it when it configures itself, so a started application
        // always has.
        builder.Services.AddSingleton(_ => endpoints);
        builder.WebHost.ConfigureKestrel(k =>
        {
            ServiceEndpoints owned = k.ApplicationServices.GetRequiredService<ServiceEndpoints>();
            k.ListenHandle(owned.Grpc.Handle, l => l.Protocols = HttpProtocols.Http2);
            if (owned.Http is { } http)
            {
                k.ListenHandle(http.Handle, l => l.Protocols = HttpProtocols.Http1);
            }

            k.Limits.MaxRequestBodySize = maxMessageBytes;
        });
        builder.Services.AddGrpc(o => o.MaxReceiveMessageSize = maxMessageBytes);
        return builder;
    }
}
