using System.CommandLine;
using Enclave.AttestationVerifier;
using Enclave.AttestationVerifier.Endorsements;
using Enclave.AttestationVerifier.Transport;
using Enclave.Crypto;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Hosting;

namespace Enclave.Cli.Commands;

internal static class ServeVerifier
{
    public static Command Create()
    {
        var dataDir = new Option<string>("--data-dir") { Required = true, Description = "signing key and node registry" };
        var grpcPort = new Option<int>("--grpc-port") { Required = true, Description = "loopback port for gRPC" };
        var httpPort = new Option<int>("--http-port") { Required = true, Description = "loopback port for HTTP (OpenID metadata, JWKS, attest)" };
        var issuer = new Option<string>("--issuer") { Description = "issuer URL in tokens (default http://127.0.0.1:{http-port})" };
        var allowSimulated = new Option<bool>("--allow-simulated") { Description = "accept SIMULATED enclave evidence (local development only)" };
        var simulatedRoot = new Option<string>("--simulated-root") { Description = "certificate of the simulated root (with --allow-simulated)" };
        var enrollmentKeys = new Option<string[]>("--enrollment-key") { AllowMultipleArgumentsPerToken = true, Description = "public JWK file of a security-team key allowed to enrol nodes (repeat)" };
        var command = new Command("verifier", "Run the attestation verifier.") { dataDir, grpcPort, httpPort, issuer, allowSimulated, simulatedRoot, enrollmentKeys };
        command.SetAction((parse, cancellationToken) => CliErrors.RunAsync(async () =>
        {
            int http = parse.GetValue(httpPort);
            var options = new VerifierOptions(parse.GetValue(issuer) ?? $"http://127.0.0.1:{http}", Path.GetFullPath(parse.GetValue(dataDir)!))
            {
                AllowSimulated = parse.GetValue(allowSimulated),
            };
            if (parse.GetValue(simulatedRoot) is { } rootPath)
            {
                options.SimulatedRoot = SimulatedRoot.LoadFile(rootPath);
            }

            foreach (string keyFile in parse.GetValue(enrollmentKeys) ?? [])
            {
                options.EnrollmentKeys.Add(KeyFiles.ReadPublicJwk(keyFile));
            }

            await using WebApplication app = VerifierServer.Build(options, parse.GetValue(grpcPort), http);
            await app.StartAsync(cancellationToken).ConfigureAwait(false);
            await app.WaitForShutdownAsync(cancellationToken).ConfigureAwait(false);
            return 0;
        }));
        return command;
    }
}
