using System.CommandLine;
using Enclave.Aggregator;
using Microsoft.AspNetCore.Builder;

namespace Enclave.Cli.Commands;

internal static class ServeAggregator
{
    public static Command Create()
    {
        var hosts = new Option<string[]>("--host") { Required = true, AllowMultipleArgumentsPerToken = true, Description = "regional host as REGION=URL (repeat)" };
        var issuer = new Option<string>("--verifier-issuer") { Required = true, Description = "trusted verifier issuer URL (JWKS at {issuer}/certs)" };
        var measurements = new Option<string[]>("--measurement") { Required = true, AllowMultipleArgumentsPerToken = true, Description = "enclave measurement whose updates are accepted (repeat)" };
        var dataDir = new Option<string>("--data-dir") { Required = true, Description = "model, round counter, manifests and signing key" };
        var broker = new Option<string>("--broker") { Description = "key broker gRPC URL: round manifests are appended to its audit log" };
        var allowSimulated = new Option<bool>("--allow-simulated") { Description = "accept SIMULATED enclaves (local development only)" };
        var testData = new Option<string>("--test-data") { Description = "Fashion-MNIST folder for evaluation", DefaultValueFactory = _ => "/usr/share/datasets/fashion-mnist" };
        var hidden = new Option<int>("--hidden") { Description = "hidden units of the MLP", DefaultValueFactory = _ => 128 };
        var epochs = new Option<int>("--epochs") { Description = "local epochs per round", DefaultValueFactory = _ => 1 };
        var port = ServiceRun.PortOption("--port", "loopback port for the coordinator's gRPC endpoint");
        var readyFile = ServiceRun.ReadyFileOption();
        var command = new Command("aggregator", "Run the coordinator: rounds, secure aggregation, FedAvg, manifests.")
        {
            hosts, issuer, measurements, dataDir, broker, allowSimulated, testData, hidden, epochs, port, readyFile,
        };
        command.SetAction((parse, cancellationToken) => CliErrors.RunAsync(async () =>
        {
            var endpoints = new List<RegionEndpoint>();
            foreach (string host in parse.GetValue(hosts)!)
            {
                int eq = host.IndexOf('=');
                if (eq <= 0)
                {
                    throw new CliException($"--host must be REGION=URL, got '{host}'");
                }

                endpoints.Add(new RegionEndpoint(host[..eq], CliErrors.ParseUri(host[(eq + 1)..], "--host")));
            }

            string? brokerUrl = parse.GetValue(broker);
            var options = new CoordinatorOptions
            {
                Hosts = endpoints,
                VerifierIssuer = CliErrors.ParseUri(parse.GetValue(issuer)!, "--verifier-issuer"),
                AllowedMeasurements = parse.GetValue(measurements)!.Select(m => m.ToLowerInvariant()).ToArray(),
                DataDirectory = Path.GetFullPath(parse.GetValue(dataDir)!),
                Broker = brokerUrl is null ? null : CliErrors.ParseUri(brokerUrl, "--broker"),
                AllowSimulated = parse.GetValue(allowSimulated),
                TestDataDirectory = parse.GetValue(testData)!,
                Hidden = parse.GetValue(hidden),
                Epochs = parse.GetValue(epochs),
                Port = parse.GetValue(port),
            };
            await using WebApplication app = ServiceRun.Build(() => AggregatorServer.Build(options));
            return await ServiceRun.RunAsync(app, "aggregator", parse.GetValue(readyFile), cancellationToken).ConfigureAwait(false);
        }));
        return command;
    }
}
