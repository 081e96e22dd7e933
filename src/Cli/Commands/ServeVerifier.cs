using System.CommandLine;
using Enclave.AttestationVerifier;
using Enclave.AttestationVerifier.Appraisal;
using Enclave.AttestationVerifier.Endorsements;
using Enclave.AttestationVerifier.Transport;
using Enclave.Crypto;
using Enclave.Hosting;
using Enclave.Protocol;
using Microsoft.AspNetCore.Builder;

namespace Enclave.Cli.Commands;

internal static class ServeVerifier
{
    public static Command Create()
    {
        var dataDir = new Option<string>("--data-dir") { Required = true, Description = "signing key and node registry" };
        var grpcPort = ServiceRun.PortOption("--grpc-port", "port for gRPC");
        var httpPort = ServiceRun.PortOption("--http-port", "port for HTTP (OpenID metadata, JWKS, attest)");
        var issuer = new Option<string>("--issuer") { Description = "issuer URL in tokens (default: the HTTP endpoint's URL, https://{listen address}:{port})" };
        var transport = new ServiceTransport();
        var readyFile = ServiceRun.ReadyFileOption();
        var allowSimulated = new Option<bool>("--allow-simulated") { Description = "accept SIMULATED enclave evidence (local development only)" };
        var simulatedRoot = new Option<string>("--simulated-root") { Description = "certificate of the simulated root (with --allow-simulated)" };
        var enrollmentKeys = new Option<string[]>("--enrollment-key") { AllowMultipleArgumentsPerToken = true, Description = "public JWK file of a security-team key allowed to enrol nodes (repeat)" };
        var collateral = new Option<string[]>("--collateral") { AllowMultipleArgumentsPerToken = true, Description = "hardware collateral file or folder (PCK/TCB chains, CRLs, TCB info, QE identity, VCEK/VLEK, AMD CAs); repeat" };
        var policy = new Option<string>("--policy") { Description = "appraisal policy JSON (default: no debug, TCB UpToDate only)" };
        var command = new Command("verifier", "Run the attestation verifier.") { dataDir, grpcPort, httpPort, issuer, allowSimulated, simulatedRoot, enrollmentKeys, collateral, policy, readyFile };
        transport.AddTo(command);
        command.SetAction((parse, cancellationToken) => CliErrors.RunAsync(async () =>
        {
            // Bound first: with port 0 the issuer URL, which every token names, needs the port the system chose.
            (string listen, TlsSettings? tls) = transport.Resolve(parse);
            using ServiceListener grpc = ServiceRun.Bind(listen, parse.GetValue(grpcPort), "--grpc-port", tls is not null);
            using ServiceListener http = ServiceRun.Bind(listen, parse.GetValue(httpPort), "--http-port", tls is not null);
            var options = new VerifierOptions(parse.GetValue(issuer) ?? http.Url.ToString().TrimEnd('/'), Path.GetFullPath(parse.GetValue(dataDir)!))
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
                built = VerifierServer.Build(options, new ServiceEndpoints(grpc, http), tls: tls);
            }
            catch (EndorsementException ex)
            {
                throw new CliException($"--collateral: {ex.Message}");
            }

            await using WebApplication app = built;
            return await ServiceRun.RunAsync(app, "verifier", parse.GetValue(readyFile), cancellationToken).ConfigureAwait(false);
        }));
        return command;
    }
}
