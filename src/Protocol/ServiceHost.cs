// The one way every service starts: an ASP.NET Core slim host with one-line console logs, gRPC over cleartext
// HTTP/2 on one port and, where an ecosystem expects it, HTTP/1.1 JSON on another.
using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Enclave.Protocol;

public static class ServiceHost
{
    public static WebApplicationBuilder CreateBuilder(
        string listenAddress, int grpcPort, int? httpPort, int maxMessageBytes, Action<ILoggingBuilder>? logging = null)
    {
        IPAddress address = IPAddress.Parse(listenAddress);
        WebApplicationBuilder builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.Logging.AddSimpleConsole(o =>
        {
            o.SingleLine = true;
            o.TimestampFormat = "HH:mm:ss ";
        });
        logging?.Invoke(builder.Logging);
        builder.WebHost.ConfigureKestrel(k =>
        {
            k.Listen(address, grpcPort, l => l.Protocols = HttpProtocols.Http2);
            if (httpPort is { } http)
            {
                k.Listen(address, http, l => l.Protocols = HttpProtocols.Http1);
            }

            k.Limits.MaxRequestBodySize = maxMessageBytes;
        });
        builder.Services.AddGrpc(o => o.MaxReceiveMessageSize = maxMessageBytes);
        return builder;
    }
}
