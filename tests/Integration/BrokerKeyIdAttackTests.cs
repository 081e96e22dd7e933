using System.Security.Cryptography;
using System.Text.RegularExpressions;
using Enclave.Bench;
using Enclave.Crypto;
using Enclave.KeyBroker.Keys;
using Enclave.KeyBroker.Policy;
using Enclave.Protocol.Broker;
using Enclave.Testing;
using Grpc.Core;
using Grpc.Net.Client;
using static Enclave.Integration.Tests.BrokerAttackSupport;

namespace Enclave.Integration.Tests;

/// <summary>Attack 4b: key names could be squatted by whoever registered a name first. Key ids are now namespaced by
/// their owner's key, so a squatter's registration of the victim's short name is a different key; and no caller
/// can tell from the wire whether a key id exists.</summary>
public sealed partial class BrokerKeyIdAttackTests
{
    private const string Issuer = "https://verifier.keyid.test";
    private const string ShortName = "eu-west-data";

    [Fact]
    public async Task A_squatter_registering_the_victims_short_name_first_does_not_affect_the_victims_key()
    {
        using var directory = new TempDirectory("enclave-squat");
        using var victim = new BrokerLoadClient(Issuer);
        using var squatter = new BrokerLoadClient(Issuer);
        string dataDir = directory.Combine("broker");
        await using ServerProcess broker = await ServerProcess.StartAsync("serve", "broker", "--data-dir", dataDir,
            "--verifier-issuer", Issuer, "--verifier-keys", WriteJwks(directory, "verifier.jwks", victim.VerifierKeys), "--simulated");
        using GrpcChannel channel = GrpcChannel.ForAddress(broker.Ready.Grpc);
        var client = new Protocol.Broker.KeyBroker.KeyBrokerClient(channel);

        byte[] squatterKey = await squatter.RegisterKeyAsync(client, ShortName);

        // The victim registers with the CLI as a data owner does; it prints the full key id.
        using var owner = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        string ownerPem = directory.Combine("owner.pem");
        await File.WriteAllTextAsync(ownerPem, owner.ExportPkcs8PrivateKeyPem());
        byte[] dataKey = RandomNumberGenerator.GetBytes(32);
        string keyFile = directory.Combine("data.key");
        await File.WriteAllBytesAsync(keyFile, dataKey);
        string policyFile = directory.Combine("policy.json");
        await File.WriteAllTextAsync(policyFile, victim.PolicyJson);
        CliResult registered = await CliRunner.RunAsync(TimeSpan.FromMinutes(1), "key", "register",
            "--broker", broker.Ready.Grpc.ToString(), "--name", ShortName, "--key-file", keyFile, "--owner-key", ownerPem, "--policy", policyFile);

        Assert.True(registered.ExitCode == 0, registered.Output + registered.Error);
        string victimId = registered.Output.Trim();
        string ownerThumbprint = Jwk.FromEcPublic(owner.ExportParameters(false)).ComputeThumbprint();
        Assert.Equal(KeyId.Compose(ownerThumbprint, ShortName), victimId);
        Assert.NotEqual(squatter.KeyId(ShortName), victimId);

        string nonce = (await client.GetNonceAsync(new GetNonceRequest())).Nonce;
        ReleaseKeyResponse released = await client.ReleaseKeyAsync(new ReleaseKeyRequest { KeyName = victimId, AttestationToken = victim.Token(nonce, out _) });
        Assert.Equal("1", released.KeyVersion);
        byte[] received = victim.DecryptKey(released.WrappedKey);
        Assert.Equal(dataKey, received);
        Assert.NotEqual(squatterKey, received);
        await VerifyAuditAsync(dataDir);
    }

    [Fact]
    public async Task No_caller_can_tell_an_unknown_key_id_from_a_key_it_may_not_have()
    {
        using var directory = new TempDirectory("enclave-probe");
        using var load = new BrokerLoadClient(Issuer);
        await using ServerProcess broker = await ServerProcess.StartAsync("serve", "broker", "--data-dir", directory.Combine("broker"),
            "--verifier-issuer", Issuer, "--verifier-keys", WriteJwks(directory, "verifier.jwks", load.VerifierKeys), "--simulated");
        using GrpcChannel channel = GrpcChannel.ForAddress(broker.Ready.Grpc);
        var client = new Protocol.Broker.KeyBroker.KeyBrokerClient(channel);
        await load.RegisterKeyAsync(client, ShortName);

        // A key whose policy the token does not satisfy: another region only.
        GetImportKeyResponse import = await client.GetImportKeyAsync(new GetImportKeyRequest());
        string usOnlyPolicy = new EnclaveReleasePolicyBuilder(Issuer)
            .AllowMeasurement(BrokerLoadClient.Measurement)
            .AllowAttestationType("sgx")
            .AllowTcbStatus("UpToDate")
            .AllowRegion("us-east")
            .ToJson();
        SignedOwnerRequest usOnly = load.RegisterRequest("us-only", Jwk.Parse(import.Jwk), RandomNumberGenerator.GetBytes(32), usOnlyPolicy);
        await client.RegisterKeyAsync(usOnly);
        string policyDenied = load.KeyId("us-only");
        string unknown = load.KeyId("no-such-key");
        string existing = load.KeyId(ShortName);

        // Unauthenticated (a token that does not validate): the answer cannot depend on the key id.
        (StatusCode, string?, string) garbageExisting = await DeniedAsync(client, existing, "not-a-token");
        (StatusCode, string?, string) garbageUnknown = await DeniedAsync(client, unknown, "not-a-token");
        Assert.Equal(StatusCode.PermissionDenied, garbageExisting.Item1);
        Assert.Equal(garbageExisting, garbageUnknown);

        // Even with a valid token, an unknown id and a policy denial look the same.
        (StatusCode, string?, string) denied = await DeniedAsync(client, policyDenied, await TokenAsync(client, load));
        (StatusCode, string?, string) missing = await DeniedAsync(client, unknown, await TokenAsync(client, load));
        (StatusCode, string?, string) malformed = await DeniedAsync(client, "../" + ShortName, await TokenAsync(client, load));
        Assert.Equal((StatusCode.PermissionDenied, "ReleaseDenied"), (denied.Item1, denied.Item2));
        Assert.Equal(denied, missing);
        Assert.Equal(denied, malformed);
    }

    private static async Task<string> TokenAsync(Protocol.Broker.KeyBroker.KeyBrokerClient client, BrokerLoadClient load) =>
        load.Token((await client.GetNonceAsync(new GetNonceRequest())).Nonce, out _);

    /// <summary>Status, reason code and message of a refused release, the message's audit receipt (random per call)
    /// blanked.</summary>
    private static async Task<(StatusCode, string?, string)> DeniedAsync(Protocol.Broker.KeyBroker.KeyBrokerClient client, string keyId, string token)
    {
        RpcException e = await Assert.ThrowsAsync<RpcException>(() =>
            client.ReleaseKeyAsync(new ReleaseKeyRequest { KeyName = keyId, AttestationToken = token }).ResponseAsync);
        return (e.StatusCode, ReasonCode(e), Receipt().Replace(e.Status.Detail, "receipt"));
    }

    [GeneratedRegex("receipt [0-9a-f]{64}")]
    private static partial Regex Receipt();
}
