using System.Security.Cryptography;
using System.Text.Json.Nodes;
using Enclave.Bench;
using Enclave.Crypto;
using Enclave.KeyBroker.Audit;
using Enclave.Protocol.Broker;
using Enclave.Testing;
using Grpc.Core;
using Grpc.Net.Client;
using static Enclave.Integration.Tests.BrokerAttackSupport;

namespace Enclave.Integration.Tests;

/// <summary>Attack 3: a man in the middle between broker and verifier appends his key to the verifier's JWKS and
/// forges a token with it. The broker pins the verifier's keys, so the forged token finds no key.</summary>
public sealed class BrokerTrustAttackTests
{
    private const string KeyName = "victim-data";

    [Fact]
    public async Task A_token_forged_with_a_key_a_proxy_appends_to_the_verifier_jwks_obtains_no_key()
    {
        using var directory = new TempDirectory("enclave-mitm");
        await using ServerProcess verifier = await ServerProcess.StartAsync("serve", "verifier", "--data-dir", directory.Combine("verifier"));
        using var direct = new HttpClient { BaseAddress = verifier.Ready.Http };
        JwkSet realKeys = JwkSet.Parse(await direct.GetStringAsync("/certs"));
        string realThumbprint = Assert.Single(realKeys.Keys).ComputeThumbprint();

        using var attacker = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        Jwk attackerJwk = Jwk.FromEcPublic(attacker.ExportParameters(false));
        attackerJwk = Jwk.FromEcPublic(attacker.ExportParameters(false), attackerJwk.ComputeThumbprint(), "sig");
        using var proxy = new KeyAppendingProxy(verifier.Ready.Http!, attackerJwk);
        using var load = new BrokerLoadClient(proxy.Issuer);

        // Thumbprint mode, fetching through the plaintext proxy (allowed only because it is loopback and the
        // development switch is given): the appended key is fetched but never used.
        string thumbprintDir = directory.Combine("broker-thumbprint");
        await using (ServerProcess broker = await StartBrokerAsync(thumbprintDir, proxy.Issuer,
            "--verifier-key-thumbprint", realThumbprint, "--dev-allow-http-verifier"))
        {
            await AssertForgedTokenDeniedAsync(broker, thumbprintDir, load, attacker);
            Assert.True(proxy.CertsRequests >= 1, "the broker did not fetch the JWKS through the proxy");
        }

        // File mode: the verifier's keys come from a file; the proxy's /certs is never asked.
        int fetchedBefore = proxy.CertsRequests;
        string fileDir = directory.Combine("broker-file");
        await using (ServerProcess broker = await StartBrokerAsync(fileDir, proxy.Issuer,
            "--verifier-keys", WriteJwks(directory, "verifier-keys.jwks", realKeys)))
        {
            await AssertForgedTokenDeniedAsync(broker, fileDir, load, attacker);
        }

        Assert.Equal(fetchedBefore, proxy.CertsRequests);

        // The control: the same forged token is granted by a broker that pins the attacker's key, so the denials
        // above are the pinning's doing and nothing else about the token.
        string controlDir = directory.Combine("broker-control");
        await using (ServerProcess control = await StartBrokerAsync(controlDir, proxy.Issuer,
            "--verifier-key-thumbprint", attackerJwk.ComputeThumbprint(), "--dev-allow-http-verifier"))
        {
            using GrpcChannel channel = GrpcChannel.ForAddress(control.Ready.Grpc);
            var client = new Protocol.Broker.KeyBroker.KeyBrokerClient(channel);
            await load.RegisterKeyAsync(client, KeyName);
            string nonce = (await client.GetNonceAsync(new GetNonceRequest())).Nonce;
            ReleaseKeyResponse granted = await client.ReleaseKeyAsync(new ReleaseKeyRequest
            {
                KeyName = load.KeyId(KeyName),
                AttestationToken = load.Token(nonce, out _, attacker),
            });
            Assert.NotEmpty(granted.WrappedKey);
        }
    }

    [Fact]
    public async Task A_broker_told_to_fetch_keys_over_plain_http_without_the_dev_switch_refuses_to_start()
    {
        using var directory = new TempDirectory("enclave-http-issuer");

        // Cleartext on loopback, so the TLS check passes and the verifier checks are what refuse.
        CliResult plaintext = await CliRunner.RunAsync(TimeSpan.FromMinutes(1),
            "serve", "broker", "--dev-cleartext", "--data-dir", directory.Combine("a"), "--simulated",
            "--verifier-issuer", "http://127.0.0.1:9", "--verifier-key-thumbprint", new string('A', 43));
        CliResult remote = await CliRunner.RunAsync(TimeSpan.FromMinutes(1),
            "serve", "broker", "--dev-cleartext", "--data-dir", directory.Combine("b"), "--simulated",
            "--verifier-issuer", "http://verifier.example", "--verifier-key-thumbprint", new string('A', 43), "--dev-allow-http-verifier");
        CliResult unpinned = await CliRunner.RunAsync(TimeSpan.FromMinutes(1),
            "serve", "broker", "--dev-cleartext", "--data-dir", directory.Combine("c"), "--simulated", "--verifier-issuer", "https://verifier.example");

        Assert.Equal(2, plaintext.ExitCode);
        Assert.Contains("plain http", plaintext.Error, StringComparison.Ordinal);
        Assert.Contains("--dev-allow-http-verifier", plaintext.Error, StringComparison.Ordinal);
        Assert.Equal(2, remote.ExitCode);
        Assert.Contains("not on loopback", remote.Error, StringComparison.Ordinal);
        Assert.Equal(2, unpinned.ExitCode);
        Assert.Contains("--verifier-keys", unpinned.Error, StringComparison.Ordinal);
        Assert.Contains("--verifier-key-thumbprint", unpinned.Error, StringComparison.Ordinal);
        Assert.False(File.Exists(directory.Combine("a", "keybroker.db")));
    }

    private static Task<ServerProcess> StartBrokerAsync(string dataDir, string issuer, params string[] pinning) =>
        ServerProcess.StartAsync(["serve", "broker", "--data-dir", dataDir, "--verifier-issuer", issuer, "--simulated", .. pinning]);

    private static async Task AssertForgedTokenDeniedAsync(ServerProcess broker, string dataDir, BrokerLoadClient load, ECDsa attacker)
    {
        using GrpcChannel channel = GrpcChannel.ForAddress(broker.Ready.Grpc);
        var client = new Protocol.Broker.KeyBroker.KeyBrokerClient(channel);
        await load.RegisterKeyAsync(client, KeyName);
        string nonce = (await client.GetNonceAsync(new GetNonceRequest())).Nonce;
        string forged = load.Token(nonce, out string tokenId, attacker);

        RpcException denied = await Assert.ThrowsAsync<RpcException>(() =>
            client.ReleaseKeyAsync(new ReleaseKeyRequest { KeyName = load.KeyId(KeyName), AttestationToken = forged }).ResponseAsync);

        Assert.Equal(StatusCode.PermissionDenied, denied.StatusCode);
        Assert.Equal("UnknownSigningKey", ReasonCode(denied));
        IReadOnlyList<AuditEntry> audit = ReadAudit(dataDir);
        Assert.DoesNotContain(audit, e => e.Kind == nameof(AuditEntryKind.ReleaseGranted));
        AuditEntry denial = Assert.Single(audit, e => e.Kind == nameof(AuditEntryKind.ReleaseDenied));
        JsonObject body = JsonNode.Parse(denial.Body)!.AsObject();
        Assert.Equal("UnknownSigningKey", body["reason"]!.GetValue<string>());
        Assert.Equal(tokenId, body["unverifiedJti"]!.GetValue<string>());
        await VerifyAuditAsync(dataDir);
    }
}
