using System.CommandLine;
using Enclave.Aggregator;
using Microsoft.AspNetCore.Builder;

namespace Enclave.Cli.Commands;

internal static class ServeAggregator
{
    public static Command Create()
    {
        var hosts = new Option<string[]>("--host") { Required = true, AllowMultipleArgumentsPerToken = true, Description = "regional host as REGION=URL (repeat)" };
        var issuer = new Option<string>("--verifier-issuer") { Required = true, Description = "issuer URL the trusted verifier's tokens name" };
        var verifierKeys = new Option<string[]>("--verifier-keys") { Required = true, AllowMultipleArgumentsPerToken = true, Description = "public JWKS or JWK file of the verifier's signing keys, pinned (repeat)" };
        var datasets = new Option<string[]>("--dataset") { Required = true, AllowMultipleArgumentsPerToken = true, Description = "dataset each region's enclave trains on, as REGION=DATASET-ID (repeat)" };
        var keys = new Option<string[]>("--key") { Required = true, AllowMultipleArgumentsPerToken = true, Description = "data key each region's enclave asks for, as REGION=KEY-ID (OWNER-THUMBPRINT/NAME; repeat)" };
        var stageTimeout = new Option<int>("--stage-timeout") { Description = "seconds a region may take to answer one stage before it counts as a dropout", DefaultValueFactory = _ => 300 };
        var maxSamples = new Option<long>("--max-samples") { Description = "cap on each participant's FedAvg weight (examples)", DefaultValueFactory = _ => 100_000 };
        var measurements = new Option<string[]>("--measurement") { Required = true, AllowMultipleArgumentsPerToken = true, Description = "enclave measurement whose updates are accepted (repeat)" };
        var dataDir = new Option<string>("--data-dir") { Required = true, Description = "model, round counter, manifests and signing key" };
        var broker = new Option<string>("--broker") { Description = "key broker gRPC URL: round manifests are appended to its audit log" };
        var allowSimulated = new Option<bool>("--allow-simulated") { Description = "accept SIMULATED enclaves (local development only)" };
        var testData = new Option<string>("--test-data") { Description = "Fashion-MNIST folder for evaluation", DefaultValueFactory = _ => "/usr/share/datasets/fashion-mnist" };
        var plan = new Option<string>("--plan") { Required = true, Description = "the model owner's signed training plan (enclave plan sign)" };
        var planOwner = new Option<string>("--plan-owner-key") { Required = true, Description = "public JWK of the model owner who signed the plan" };
        var port = ServiceRun.PortOption("--port", "port for the coordinator's gRPC endpoint (mutual TLS: operators present a certificate of the deployment CA)");
        var transport = new ServiceTransport();
        var metricsPort = MetricsPortOption.Create();
        var readyFile = ServiceRun.ReadyFileOption();
        var command = new Command("aggregator", "Run the coordinator: rounds, secure aggregation, FedAvg, manifests.")
        {
            hosts, issuer, verifierKeys, datasets, keys, measurements, dataDir, broker, allowSimulated, testData, plan, planOwner, maxSamples, stageTimeout, port, metricsPort, readyFile,
        };
        transport.AddTo(command);
        command.SetAction((parse, cancellationToken) => CliErrors.RunAsync(async () =>
        {
            (string listen, Enclave.Hosting.TlsSettings? tls) = transport.Resolve(parse);
            Dictionary<string, string> hostUrls = Pairs(parse.GetValue(hosts)!, "--host", "URL");
            Dictionary<string, string> datasetIds = Pairs(parse.GetValue(datasets)!, "--dataset", "DATASET-ID");
            Dictionary<string, string> keyIds = Pairs(parse.GetValue(keys)!, "--key", "KEY-ID");
            var endpoints = new List<RegionEndpoint>();
            foreach ((string region, string url) in hostUrls)
            {
                if (!datasetIds.TryGetValue(region, out string? datasetId) || !keyIds.TryGetValue(region, out string? keyId))
                {
                    throw new CliException($"region {region} needs a --dataset {region}=... and a --key {region}=...");
                }

                endpoints.Add(new RegionEndpoint(region, CliErrors.ParseUri(url, "--host"), datasetId, keyId));
            }

            if (datasetIds.Keys.Concat(keyIds.Keys).FirstOrDefault(r => !hostUrls.ContainsKey(r)) is { } stray)
            {
                throw new CliException($"--dataset or --key names region {stray}, which has no --host");
            }

            int timeout = parse.GetValue(stageTimeout);
            if (timeout is < 1 or > 86_400)
            {
                throw new CliException($"--stage-timeout must be 1 to 86400 seconds, got {timeout}");
            }

            long cap = parse.GetValue(maxSamples);
            if (cap is < 1 or > 1_000_000_000)
            {
                throw new CliException($"--max-samples must be 1 to 1000000000, got {cap}");
            }

            (Privacy.SignedPlan signedPlan, Crypto.Jwk owner) = PlanCommands.LoadSigned(parse.GetValue(plan)!, parse.GetValue(planOwner)!);
            string? brokerUrl = parse.GetValue(broker);
            var options = new CoordinatorOptions
            {
                Hosts = endpoints,
                VerifierIssuer = CliErrors.ParseUri(parse.GetValue(issuer)!, "--verifier-issuer"),
                VerifierKeys = KeyFiles.ReadPublicKeySets(parse.GetValue(verifierKeys)!, "--verifier-keys"),
                MaxSamplesPerParticipant = cap,
                StageTimeout = TimeSpan.FromSeconds(timeout),
                ListenAddress = listen,
                Tls = tls,
                AllowedMeasurements = parse.GetValue(measurements)!.Select(m => m.ToLowerInvariant()).ToArray(),
                DataDirectory = Path.GetFullPath(parse.GetValue(dataDir)!),
                Broker = brokerUrl is null ? null : CliErrors.ParseUri(brokerUrl, "--broker"),
                AllowSimulated = parse.GetValue(allowSimulated),
                TestDataDirectory = parse.GetValue(testData)!,
                Plan = signedPlan,
                PlanOwnerKey = owner,
                Port = parse.GetValue(port),
                MetricsPort = parse.GetValue(metricsPort),
            };
            await using WebApplication app = ServiceRun.Build(() => AggregatorServer.Build(options));
            return await ServiceRun.RunAsync(app, "aggregator", parse.GetValue(readyFile), cancellationToken).ConfigureAwait(false);
        }));
        return command;
    }

    private static Dictionary<string, string> Pairs(string[] values, string option, string what)
    {
        var pairs = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (string value in values)
        {
            int eq = value.IndexOf('=');
            if (eq <= 0 || eq == value.Length - 1)
            {
                throw new CliException($"{option} must be REGION={what}, got '{value}'");
            }

            if (!pairs.TryAdd(value[..eq], value[(eq + 1)..]))
            {
                throw new CliException($"{option} names region {value[..eq]} twice");
            }
        }

        return pairs;
    }
}
