using System.CommandLine;

namespace Enclave.Cli.Commands;

/// <summary><c>--metrics-port</c> of the services whose only other port is gRPC (the host, the coordinator): an
/// HTTP/1.1 listener, TLS like the gRPC one but asking for no client certificate, serving /metrics (Prometheus)
/// and /healthz. Absent: no such listener.</summary>
internal static class MetricsPortOption
{
    public static Option<int?> Create() => new("--metrics-port")
    {
        Description = "port for HTTP /metrics (Prometheus) and /healthz, no client certificate asked (0: a free port, written to --ready-file as \"http\"; absent: none)",
    };
}
