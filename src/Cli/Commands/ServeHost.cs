using System.CommandLine;
using Enclave.EnclaveHost;
using Microsoft.AspNetCore.Builder;

namespace Enclave.Cli.Commands;

internal static class ServeHost
{
    public static Command Create()
    {
        var region = new Option<string>("--region") { Required = true, Description = "region this host serves (must match its enrolment)" };
        var dataDir = new Option<string>("--data-dir") { Required = true, Description = "folder holding the region's {dataset-id}.encds files" };
        var enclaveDir = new Option<string>("--enclave-dir") { Required = true, Description = "configured enclave image to launch (see `enclave image configure`)" };
        var platformDir = new Option<string>("--platform-dir") { Required = true, Description = "simulated platform key and certificate" };
        var verifier = new Option<string>("--verifier") { Required = true, Description = "verifier gRPC URL" };
        var broker = new Option<string>("--broker") { Required = true, Description = "key broker gRPC URL" };
        var port = ServiceRun.PortOption("--port", "port for the host's gRPC endpoint (mutual TLS: the coordinator must present a certificate of the deployment CA)");
        var transport = new ServiceTransport();
        var metricsPort = MetricsPortOption.Create();
        var readyFile = ServiceRun.ReadyFileOption();
        var exitAtStep = new Option<int>("--exit-at-step") { Description = "fault injection: the host process dies on its n-th secure-aggregation step (2 = after ShareKeys)" };
        var disclose = new Option<bool>("--test-disclose-inputs") { Description = "test mode: a simulated enclave logs its quantised inputs" };
        var command = new Command("host", "Run a regional host: launches the enclave and relays its traffic.")
        {
            region, dataDir, enclaveDir, platformDir, verifier, broker, port, metricsPort, exitAtStep, disclose, readyFile,
        };
        transport.AddTo(command);
        command.SetAction((parse, cancellationToken) => CliErrors.RunAsync(async () =>
        {
            (string listen, Enclave.Hosting.TlsSettings? tls) = transport.Resolve(parse);
            var options = new Enclave.EnclaveHost.HostOptions
            {
                ListenAddress = listen,
                Tls = tls,
                Region = parse.GetValue(region)!,
                DataDirectory = Path.GetFullPath(parse.GetValue(dataDir)!),
                EnclaveDirectory = Path.GetFullPath(parse.GetValue(enclaveDir)!),
                PlatformDirectory = Path.GetFullPath(parse.GetValue(platformDir)!),
                VerifierGrpc = CliErrors.ParseUri(parse.GetValue(verifier)!, "--verifier"),
                Broker = CliErrors.ParseUri(parse.GetValue(broker)!, "--broker"),
                Port = parse.GetValue(port),
                MetricsPort = parse.GetValue(metricsPort),
                ExitAtStep = parse.GetValue(exitAtStep),
                DiscloseInputsForTests = parse.GetValue(disclose),
            };
            await using WebApplication app = ServiceRun.Build(() => HostServer.Build(options));
            return await ServiceRun.RunAsync(app, $"host {options.Region}", parse.GetValue(readyFile), cancellationToken).ConfigureAwait(false);
        }));
        return command;
    }
}
