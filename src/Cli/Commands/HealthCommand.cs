// `enclave health`: asks a service for its gRPC health (grpc.health.v1) over the same TLS the parties use, for
// container health checks and Kubernetes exec probes (the kubelet's own gRPC probe speaks neither TLS nor mutual
// TLS). Exit 0 when the answer is SERVING, 1 for any other answer or none.
using System.CommandLine;
using Grpc.Core;
using Grpc.Health.V1;
using Grpc.Net.Client;

namespace Enclave.Cli.Commands;

internal static class HealthCommand
{
    public static Command Create()
    {
        var address = new Option<string>("--address") { Required = true, Description = "the service's gRPC URL, such as https://localhost:7200" };
        var service = new Option<string>("--service") { Description = "the gRPC service to ask about (default: the server as a whole)", DefaultValueFactory = _ => string.Empty };
        var timeout = new Option<int>("--timeout") { Description = "seconds to wait for the answer", DefaultValueFactory = _ => 5 };
        var tls = new ClientTls();
        var command = new Command("health", "Ask a service for its gRPC health (grpc.health.v1); exit 0 when SERVING, 1 otherwise.") { address, service, timeout };
        tls.AddTo(command);
        command.SetAction((parse, cancellationToken) => CliErrors.RunAsync(async () =>
        {
            Uri url = CliErrors.ParseUri(parse.GetValue(address)!, "--address");
            int seconds = parse.GetValue(timeout);
            if (seconds is < 1 or > 300)
            {
                throw new CliException($"--timeout must be 1 to 300 seconds, got {seconds}");
            }

            using Enclave.Hosting.TlsSettings? settings = tls.Resolve(parse);
            using GrpcChannel channel = CliChannel.Create(url, settings);
            var client = new Health.HealthClient(channel);
            try
            {
                HealthCheckResponse response = await client.CheckAsync(
                    new HealthCheckRequest { Service = parse.GetValue(service) ?? string.Empty },
                    deadline: DateTime.UtcNow.AddSeconds(seconds),
                    cancellationToken: cancellationToken).ConfigureAwait(false);
                Console.WriteLine(response.Status);
                return response.Status == HealthCheckResponse.Types.ServingStatus.Serving ? 0 : 1;
            }
            catch (RpcException ex)
            {
                Console.Error.WriteLine($"enclave: {url} did not answer the health check ({CliChannel.Describe(ex)})");
                return 1;
            }
        }));
        return command;
    }
}
