using System.CommandLine;
using Enclave.Crypto;
using Enclave.KeyBroker;
using Enclave.KeyBroker.Transport;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Hosting;

namespace Enclave.Cli.Commands;

internal static class ServeBroker
{
    public static Command Create()
    {
        var dataDir = new Option<string>("--data-dir") { Required = true, Description = "key store, audit log and broker keys" };
        var grpcPort = new Option<int>("--grpc-port") { Required = true, Description = "loopback port for gRPC" };
        var httpPort = new Option<int>("--http-port") { Required = true, Description = "loopback port for HTTP (Key Vault-shaped release)" };
        var issuers = new Option<string[]>("--verifier-issuer") { Required = true, AllowMultipleArgumentsPerToken = true, Description = "trusted verifier issuer URL (repeat); keys from {issuer}/certs" };
        var audience = new Option<string>("--audience") { Description = "required token audience", DefaultValueFactory = _ => "enclave-key-broker" };
        var simulated = new Option<bool>("--simulated") { Description = "simulated mode: file master key, SIMULATED tokens accepted" };
        var coordinatorKeys = new Option<string[]>("--coordinator-key") { AllowMultipleArgumentsPerToken = true, Description = "public JWK file of a coordinator whose round manifests are recorded (repeat)" };
        var enrollmentKeys = new Option<string[]>("--enrollment-key") { AllowMultipleArgumentsPerToken = true, Description = "public JWK file of the security team whose node enrolments are recorded (repeat)" };
        var command = new Command("broker", "Run the key broker.") { dataDir, grpcPort, httpPort, issuers, audience, simulated, coordinatorKeys, enrollmentKeys };
        command.SetAction((parse, cancellationToken) => CliErrors.RunAsync(async () =>
        {
            var options = new KeyBrokerOptions
            {
                DataDirectory = Path.GetFullPath(parse.GetValue(dataDir)!),
                TrustedIssuers = parse.GetValue(issuers)!.Select(i => CliErrors.ParseUri(i, "--verifier-issuer").ToString().TrimEnd('/')).ToArray(),
                Audience = parse.GetValue(audience),
                SimulatedMode = parse.GetValue(simulated),
                EnrollmentKeys = (parse.GetValue(enrollmentKeys) ?? []).Select(KeyFiles.ReadPublicJwk).ToArray(),
            };
            Directory.CreateDirectory(options.DataDirectory);
            Jwk[] coordinators = (parse.GetValue(coordinatorKeys) ?? []).Select(KeyFiles.ReadPublicJwk).ToArray();
            await using WebApplication app = BrokerServer.Build(options, coordinators, parse.GetValue(grpcPort), parse.GetValue(httpPort));
            await app.StartAsync(cancellationToken).ConfigureAwait(false);
            await app.WaitForShutdownAsync(cancellationToken).ConfigureAwait(false);
            return 0;
        }));
        return command;
    }
}
