using System.CommandLine;
using Enclave.AttestationVerifier;
using Enclave.AttestationVerifier.Appraisal;
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
        var collateral = new Option<string[]>("--collateral") { AllowMultipleArgumentsPerToken = true, Description = "hardware collateral file or folder (PCK/TCB chains, CRLs, TCB info, QE identity, VCEK/VLEK, AMD CAs); repeat" };
        var policy = new Option<string>("--policy") { Description = "appraisal policy JSON (default: no debug, TCB UpToDate only)" };
        var command = new Command("verifier", "Run the attestation verifier.") { dataDir, grpcPort, httpPort, issuer, allowSimulated, simulatedRoot, enrollmentKeys, collateral, policy };
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

            foreach (string path in parse.GetValue(collateral) ?? [])
            {
                options.CollateralPaths.Add(Path.GetFullPath(path));
            }

            if (parse.GetValue(policy) is { } policyPath)
            {
                try
                {
                    options.Policy = AppraisalPolicy.Load(policyPath);
                }
                catch (Exception ex) when (ex is InvalidDataException or IOException)
                {
                    throw new CliException($"--policy {policyPath}: {ex.Message}");
                }
            }

            foreach (string keyFile in parse.GetValue(enrollmentKeys) ?? [])
            {
                options.EnrollmentKeys.Add(KeyFiles.ReadPublicJwk(keyFile));
            }

            WebApplication built;
            try
            {
                built = VerifierServer.Build(options, parse.GetValue(grpcPort), http);
            }
            catch (EndorsementException ex)
            {
                throw new CliException($"--collateral: {ex.Message}");
            }

            await using WebApplication app = built;
            await app.StartAsync(cancellationToken).ConfigureAwait(false);
            await app.WaitForShutdownAsync(cancellationToken).ConfigureAwait(false);
            return 0;
        }));
        return command;
    }
}
