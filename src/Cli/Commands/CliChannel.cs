// The CLI's gRPC channels to the services: TLS through the deployment CA for https URLs, cleartext only for the
// http URLs of development runs, and failures that say what went wrong with the connection (a certificate from
// another CA, a name that does not match, an expired certificate, a missing client certificate).
using System.Security.Authentication;
using Enclave.Hosting;
using Grpc.Core;
using Grpc.Net.Client;

namespace Enclave.Cli.Commands;

internal static class CliChannel
{
    public static GrpcChannel Create(Uri address, TlsSettings? tls)
    {
        try
        {
            return ServiceHost.CreateChannel(address, tls);
        }
        catch (TlsConfigurationException ex)
        {
            throw new CliException(ex.Message);
        }
    }

    /// <summary>The reason code and detail of a failed call; for a connection that failed, what was wrong with TLS.</summary>
    public static string Describe(RpcException ex)
    {
        string code = ex.Trailers.GetValue("reason-code") ?? ex.StatusCode.ToString();
        const string HttpPort = "this address serves HTTP/1.1 (a service's HTTP port), not gRPC: use the service's gRPC URL (\"grpc\" in its ready file)";
        for (Exception? inner = ex.Status.DebugException; inner is not null; inner = inner.InnerException)
        {
            if (inner.Message.Contains("HTTP_1_1_REQUIRED", StringComparison.Ordinal))
            {
                return $"{code}: {HttpPort}";
            }

            if (inner is AuthenticationException)
            {
                string detail = Innermost(inner).Message;
                return detail.Contains("application protocol", StringComparison.OrdinalIgnoreCase) || detail.Contains("ALPN", StringComparison.Ordinal)
                    ? $"{code}: {HttpPort}"
                    : $"{code}: TLS with the service failed: {Explain(inner.Message + " " + detail)}{detail}{(detail.Contains("SSL_ERROR_SSL", StringComparison.Ordinal) ? " (the service rejected the handshake: is this its gRPC URL and not its HTTP port?)" : string.Empty)}";
            }

            if (inner is IOException && inner.Message.Contains("HTTP/2 handshake", StringComparison.Ordinal))
            {
                // TLS 1.3 asks for a client certificate after the handshake; a server that requires one and gets none
                // closes the connection before HTTP/2 starts, which is all the client sees.
                return $"{code}: TLS with the service failed: the service closed the connection before HTTP/2 began, as a service that requires a client certificate does when none of the deployment CA is presented (give --tls-cert and --tls-key)";
            }
        }

        return $"{code}: {ex.Status.Detail}";
    }

    private static Exception Innermost(Exception ex)
    {
        while (ex.InnerException is not null && ex.Message.Contains("see inner exception", StringComparison.Ordinal))
        {
            ex = ex.InnerException;
        }

        return ex;
    }

    private static string Explain(string message) =>
        message.Contains("PartialChain", StringComparison.Ordinal) || message.Contains("UntrustedRoot", StringComparison.Ordinal)
            ? "the service's certificate is not issued by the deployment CA given with --tls-ca. "
            : message.Contains("RemoteCertificateNameMismatch", StringComparison.Ordinal)
                ? "the service's certificate does not name the host in its URL. "
                : message.Contains("NotTimeValid", StringComparison.Ordinal)
                    ? "the service's certificate has expired or is not yet valid. "
                    : string.Empty;
}
