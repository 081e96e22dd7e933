using System.CommandLine;
using System.Security.Cryptography;
using Enclave.AttestationVerifier.Endorsements;
using Enclave.AttestationVerifier.Nodes;
using Enclave.Protocol.Verifier;
using Grpc.Core;
using Grpc.Net.Client;

namespace Enclave.Cli.Commands;

/// <summary>The security team's verbs: simulated platform material, team keys and node enrolment.</summary>
internal static class NodeCommands
{
    public static Command Create()
    {
        var node = new Command("node", "Provision nodes: simulated platform material, security-team keys, enrolment.");

        var rootDir = new Option<string>("--dir") { Required = true, Description = "folder for root.key and root.crt" };
        var initRoot = new Command("init-root", "Create a SIMULATED platform root (stands in for a hardware vendor's root).") { rootDir };
        initRoot.SetAction(parse => CliErrors.RunAsync(() =>
        {
            Console.WriteLine(SimulatedPlatformAuthority.CreateRoot(parse.GetValue(rootDir)!));
            return Task.FromResult(0);
        }));

        var root = new Option<string>("--root-dir") { Required = true, Description = "folder of the simulated root" };
        var platform = new Option<string>("--platform-dir") { Required = true, Description = "folder for platform.key and platform.crt" };
        var init = new Command("init", "Create a SIMULATED platform key certified by the simulated root; prints its platform id.") { root, platform };
        init.SetAction(parse => CliErrors.RunAsync(() =>
        {
            Console.WriteLine(SimulatedPlatformAuthority.CreatePlatform(parse.GetValue(root)!, parse.GetValue(platform)!));
            return Task.FromResult(0);
        }));

        var keyOut = new Option<string>("--out") { Required = true, Description = "private key file (PEM); the public JWK goes to FILE.jwk" };
        var keygen = new Command("keygen", "Create a security-team signing key for enrolments.") { keyOut };
        keygen.SetAction(parse => CliErrors.RunAsync(() =>
        {
            string path = parse.GetValue(keyOut)!;
            using ECDsa key = KeyFiles.CreateSigningKey(path, path + ".jwk");
            Console.WriteLine(path + ".jwk");
            return Task.FromResult(0);
        }));

        var verifier = new Option<string>("--verifier") { Required = true, Description = "verifier gRPC URL" };
        var teamKey = new Option<string>("--key") { Required = true, Description = "security-team private key (PEM)" };
        var platformId = new Option<string>("--platform-id") { Required = true, Description = "platform identity to enrol" };
        var region = new Option<string>("--region") { Required = true, Description = "region the platform sits in" };
        var replace = new Option<bool>("--replace") { Description = "confirm moving an enrolled platform to another region" };
        var broker = new Option<string>("--broker") { Description = "key broker gRPC URL: also record the signed enrolment in the broker's audit log" };
        var sequence = new Option<long?>("--seq")
        {
            Description = "the platform's enrolment sequence number, greater than its current one (default: this machine's clock in Unix milliseconds)",
        };
        var enroll = new Command("enroll", "Enrol a platform with its region in the verifier's node registry (signed, audited).") { verifier, teamKey, platformId, region, replace, broker, sequence };
        var clientTls = new ClientTls();
        clientTls.AddTo(enroll);
        enroll.SetAction((parse, cancellationToken) => CliErrors.RunAsync(async () =>
        {
            using Enclave.Hosting.TlsSettings? tls = clientTls.Resolve(parse);
            using ECDsa key = KeyFiles.ReadSigningKey(parse.GetValue(teamKey)!);
            if (parse.GetValue(sequence) is { } explicitSequence && !EnrollmentRequest.IsValidSequence(explicitSequence))
            {
                throw new CliException($"--seq must be 1..{EnrollmentRequest.MaxSequence}");
            }

            // Each enrolment gets a fresh jti and a seq above any earlier one of the platform, so the verifier
            // and the broker apply it once and never after a later one (see EnrollmentRequest).
            string signed;
            try
            {
                signed = EnrollmentRequest.Create(key, parse.GetValue(platformId)!, parse.GetValue(region)!, parse.GetValue(replace), sequence: parse.GetValue(sequence));
            }
            catch (ArgumentException ex)
            {
                throw new CliException(ex.ParamName switch
                {
                    "platformId" => $"--platform-id: {ex.Message.Split(" (Parameter", 2)[0]}",
                    "region" => $"--region: {ex.Message.Split(" (Parameter", 2)[0]}",
                    _ => ex.Message.Split(" (Parameter", 2)[0],
                });
            }

            EnrollNodeResponse response = await SendEnrollmentAsync(CliErrors.ParseUri(parse.GetValue(verifier)!, "--verifier"), signed, tls, cancellationToken).ConfigureAwait(false);
            Console.WriteLine($"enrolled {response.PlatformId} in {response.Region}");
            if (parse.GetValue(broker) is { } brokerUrl)
            {
                string receipt = await RecordEnrollmentAsync(CliErrors.ParseUri(brokerUrl, "--broker"), signed, tls, cancellationToken).ConfigureAwait(false);
                Console.WriteLine($"recorded in the broker's audit log (receipt {receipt})");
            }
            return 0;
        }));

        node.Subcommands.Add(initRoot);
        node.Subcommands.Add(init);
        node.Subcommands.Add(keygen);
        node.Subcommands.Add(enroll);
        return node;
    }

    /// <summary>Appends a signed enrolment to the key broker's audit log; returns the receipt id.</summary>
    public static async Task<string> RecordEnrollmentAsync(Uri broker, string signedEnrollment, Enclave.Hosting.TlsSettings? tls, CancellationToken cancellationToken)
    {
        using GrpcChannel channel = CliChannel.Create(broker, tls);
        var client = new Protocol.Broker.KeyBroker.KeyBrokerClient(channel);
        try
        {
            var response = await client.RecordEnrollmentAsync(new Protocol.Broker.RecordEnrollmentRequest { SignedEnrollment = signedEnrollment }, cancellationToken: cancellationToken).ConfigureAwait(false);
            return response.ReceiptId;
        }
        catch (RpcException ex)
        {
            throw new CliException($"the broker did not record the enrolment ({CliChannel.Describe(ex)})");
        }
    }

    private static async Task<EnrollNodeResponse> SendEnrollmentAsync(Uri verifier, string signedEnrollment, Enclave.Hosting.TlsSettings? tls, CancellationToken cancellationToken)
    {
        using GrpcChannel channel = CliChannel.Create(verifier, tls);
        var client = new Protocol.Verifier.AttestationVerifier.AttestationVerifierClient(channel);
        try
        {
            return await client.EnrollNodeAsync(new EnrollNodeRequest { SignedEnrollment = signedEnrollment }, cancellationToken: cancellationToken).ConfigureAwait(false);
        }
        catch (RpcException ex)
        {
            throw new CliException($"enrolment refused ({CliChannel.Describe(ex)})");
        }
    }

    public static async Task<EnrollNodeResponse> EnrollAsync(Uri verifier, ECDsa key, string platformId, string region, bool replace, Enclave.Hosting.TlsSettings? tls, CancellationToken cancellationToken)
    {
        using GrpcChannel channel = CliChannel.Create(verifier, tls);
        var client = new Protocol.Verifier.AttestationVerifier.AttestationVerifierClient(channel);
        try
        {
            return await client.EnrollNodeAsync(new EnrollNodeRequest { SignedEnrollment = EnrollmentRequest.Create(key, platformId, region, replace) }, cancellationToken: cancellationToken).ConfigureAwait(false);
        }
        catch (RpcException ex)
        {
            throw new CliException($"enrolment refused ({CliChannel.Describe(ex)})");
        }
    }
}
