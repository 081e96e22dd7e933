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

    /// <summary>The reason code and detail of a failed call; for a connection that failed, the TLS or socket error.</summary>
    public static string Describe(RpcException ex)
    {
        string code = ex.Trailers.GetValue("reason-code") ?? ex.StatusCode.ToString();
        for (Exception? inner = ex.Status.DebugException; inner is not null; inner = inner.InnerException)
        {
            if (inner is AuthenticationException or IOException { InnerException: null } && inner.Message.Length > 0)
            {
                return $"{code}: TLS with the service failed: {inner.Message}";
            }
        }

        return $"{code}: {ex.Status.Detail}";
    }
}
