// The one way every service starts: an ASP.NET Core slim host with one-line console logs, gRPC over HTTP/2 on one
// port and, where an ecosystem expects it, HTTP/1.1 JSON on another, both over TLS (TlsSettings) unless a
// development run asked for cleartext on loopback. The ports are bound before the host is built (see
// ServiceListener), so a port of 0 is safe to ask for and its number is known up front.
using System.Security.Cryptography.X509Certificates;
using Grpc.Net.Client;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.AspNetCore.Server.Kestrel.Https;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Enclave.Hosting;

public static class ServiceHost
{
    /// <summary>Where a service listens unless its operator says otherwise (`--listen`): loopback only, so that a
    /// service started without thought is reachable from nowhere else.</summary>
    public const string DefaultListenAddress = "127.0.0.1";

    /// <summary>A builder listening on <paramref name="listenAddress"/>: gRPC on <paramref name="grpcPort"/> and,
    /// when given, HTTP/1.1 on <paramref name="httpPort"/>. A port of 0 is bound to a free port at once; read the
    /// ports from <see cref="ServiceEndpoints"/> in the built application's services.</summary>
    /// <exception cref="PortUnavailableException">A port cannot be bound.</exception>
    /// <param name="tls">The service's TLS identity; null serves cleartext (development on loopback only).</param>
    /// <param name="requireClientCertificate">Whether gRPC callers must present a certificate of the deployment CA
    /// (mutual TLS: the hosts and the coordinator).</param>
    public static WebApplicationBuilder CreateBuilder(
        string listenAddress, int grpcPort, int? httpPort, int maxMessageBytes, TlsSettings? tls, bool requireClientCertificate = false, Action<ILoggingBuilder>? logging = null)
    {
        CheckCleartext(listenAddress, tls);
        ServiceListener grpc = ServiceListener.Bind(listenAddress, grpcPort, tls is not null);
        ServiceListener? http = null;
        try
        {
            if (httpPort is { } port)
            {
                http = ServiceListener.Bind(listenAddress, port, tls is not null);
            }
        }
        catch
        {
            grpc.Dispose();
            throw;
        }

        return CreateBuilder(new ServiceEndpoints(grpc, http), maxMessageBytes, tls, requireClientCertificate, logging);
    }

    /// <summary>A builder serving on listeners already bound; the built application takes ownership of them.</summary>
    public static WebApplicationBuilder CreateBuilder(
        ServiceEndpoints endpoints, int maxMessageBytes, TlsSettings? tls, bool requireClientCertificate = false, Action<ILoggingBuilder>? logging = null)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        if ((tls is not null) != endpoints.Grpc.Secure)
        {
            throw new ArgumentException("the listeners were bound for another transport than the one configured", nameof(endpoints));
        }

        CheckCleartext(endpoints.Grpc.EndPoint.Address.ToString(), tls);
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
            k.ListenHandle(owned.Grpc.Handle, l =>
            {
                l.Protocols = HttpProtocols.Http2;
                UseTls(l, tls, requireClientCertificate);
            });
            if (owned.Http is { } http)
            {
                k.ListenHandle(http.Handle, l =>
                {
                    l.Protocols = HttpProtocols.Http1;
                    UseTls(l, tls, requireClientCertificate: false);
                });
            }

            k.Limits.MaxRequestBodySize = maxMessageBytes;
        });
        builder.Services.AddGrpc(o => o.MaxReceiveMessageSize = maxMessageBytes);
        builder.Services.AddServiceObservability();
        return builder;
    }

    /// <summary>A gRPC channel to <paramref name="address"/>: over TLS with <paramref name="tls"/> (the server's chain
    /// checked against the deployment CA and its name against the address; this party's certificate presented
    /// when asked), cleartext only for an http address, which only development runs use.</summary>
    /// <exception cref="TlsConfigurationException">An https address without TLS settings, or an http one with.</exception>
    public static GrpcChannel CreateChannel(Uri address, TlsSettings? tls, int maxMessageBytes = 64 * 1024 * 1024)
    {
        ArgumentNullException.ThrowIfNull(address);
        if (address.Scheme == Uri.UriSchemeHttps && tls is null)
        {
            throw new TlsConfigurationException($"{address} is https: give --tls-ca (and the party's --tls-cert/--tls-key) to reach it");
        }

        if (address.Scheme == Uri.UriSchemeHttp && tls is not null)
        {
            throw new TlsConfigurationException($"{address} is cleartext http, but this party is configured for TLS; use its https address");
        }

        // HTTP/2 pings while a call is open: a peer whose link died is noticed in about half a minute, not after
        // the kernel's TCP retransmission timeout (many minutes), so a region cut off mid-round becomes a dropout.
        SocketsHttpHandler handler = tls?.CreateHandler() ?? new SocketsHttpHandler();
        handler.KeepAlivePingDelay = TimeSpan.FromSeconds(15);
        handler.KeepAlivePingTimeout = TimeSpan.FromSeconds(10);
        handler.KeepAlivePingPolicy = HttpKeepAlivePingPolicy.WithActiveRequests;
        handler.EnableMultipleHttp2Connections = true;
        var options = new GrpcChannelOptions { MaxReceiveMessageSize = maxMessageBytes, MaxSendMessageSize = maxMessageBytes, HttpHandler = handler };
        return GrpcChannel.ForAddress(address, options);
    }

    private static void CheckCleartext(string listenAddress, TlsSettings? tls)
    {
        if (tls is null && !TlsSettings.CleartextAllowed(listenAddress))
        {
            throw new TlsConfigurationException($"cleartext is only for development on loopback; to listen on {listenAddress} give --tls-cert, --tls-key and --tls-ca");
        }
    }

    private static void UseTls(ListenOptions listen, TlsSettings? tls, bool requireClientCertificate)
    {
        if (tls is null)
        {
            return;
        }

        X509Certificate2 certificate = tls.Certificate ?? throw new TlsConfigurationException("a service needs a certificate of its own (--tls-cert and --tls-key)");
        listen.UseHttps(https =>
        {
            https.ServerCertificate = certificate;
            https.SslProtocols = TlsSettings.Protocols;
            https.ClientCertificateMode = requireClientCertificate ? ClientCertificateMode.RequireCertificate : ClientCertificateMode.NoCertificate;
            https.CheckCertificateRevocation = false;
            if (requireClientCertificate)
            {
                // The system store plays no part: a client is admitted only with a chain to the deployment CA.
                https.ClientCertificateValidation = (certificate, _, _) => tls.ValidatePeer(certificate) is null;
            }
        });
    }
}
