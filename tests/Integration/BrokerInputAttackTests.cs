using System.Net;
using System.Security.Cryptography;
using System.Text;
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

/// <summary>Attacks 6, 7 and 8 on a real broker process: an audit log grown by garbage releases, replayed and
/// malformed round manifests, and malformed JSON on the HTTP release endpoint.</summary>
public sealed class BrokerInputAttackTests
{
    private const string Issuer = "https://verifier.inputs.test";
    private const string KeyName = "flood-key";

    [Fact]
    public async Task A_thousand_garbage_token_releases_add_a_handful_of_audit_entries_and_a_valid_release_still_succeeds()
    {
        using var directory = new TempDirectory("enclave-flood");
        using var load = new BrokerLoadClient(Issuer);
        string dataDir = directory.Combine("broker");
        await using ServerProcess broker = await StartBrokerAsync(directory, dataDir, load);
        using GrpcChannel channel = GrpcChannel.ForAddress(broker.Ready.Grpc);
        var client = new Protocol.Broker.KeyBroker.KeyBrokerClient(channel);
        await load.RegisterKeyAsync(client, KeyName);
        int before = ReadAudit(dataDir).Count;

        var codes = new System.Collections.Concurrent.ConcurrentBag<(StatusCode, string?)>();
        await Parallel.ForEachAsync(Enumerable.Range(0, 1000), new ParallelOptions { MaxDegreeOfParallelism = 8 }, async (i, cancellationToken) =>
        {
            try
            {
                await client.ReleaseKeyAsync(new ReleaseKeyRequest
                {
                    KeyName = load.KeyId(KeyName),
                    AttestationToken = $"eyJ{i}.\"attacker text {new string('x', 500)}\".sig",
                }, cancellationToken: cancellationToken);
                codes.Add((StatusCode.OK, null));
            }
            catch (RpcException e)
            {
                codes.Add((e.StatusCode, ReasonCode(e)));
            }
        });

        IReadOnlyList<AuditEntry> flooded = ReadAudit(dataDir);
        Assert.DoesNotContain(codes, c => c.Item1 == StatusCode.OK);
        Assert.True(codes.Count(c => c == (StatusCode.ResourceExhausted, "RateLimited")) >= 990, string.Join(", ", codes.Distinct()));
        Assert.InRange(flooded.Count - before, 1, 6);
        Assert.All(flooded.Skip(before), e => Assert.DoesNotContain("attacker text", e.Body, StringComparison.Ordinal));

        // The honest enclave behind the same address is neither blocked nor merged into the summary.
        ReleaseAttempt honest = await load.ReleaseAsync(client, load.KeyId(KeyName));
        Assert.NotNull(honest.ReceiptId);
        AuditEntry grant = Assert.Single(ReadAudit(dataDir), e => e.Id == honest.ReceiptId);
        Assert.Equal(nameof(AuditEntryKind.ReleaseGranted), grant.Kind);
        Assert.Equal(honest.TokenId, JsonNode.Parse(grant.Body)!["jti"]!.GetValue<string>());
        Assert.Equal(flooded.Count + 1, await VerifyAuditAsync(dataDir));
    }

    [Fact]
    public async Task A_manifest_is_recorded_once_per_round_and_a_malformed_one_is_a_typed_error()
    {
        using var directory = new TempDirectory("enclave-manifest");
        using var load = new BrokerLoadClient(Issuer);
        using var coordinator = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        Jwk coordinatorJwk = Jwk.FromEcPublic(coordinator.ExportParameters(false));
        string coordinatorFile = directory.Combine("coordinator.jwk");
        await File.WriteAllTextAsync(coordinatorFile, coordinatorJwk.ToJson());
        string dataDir = directory.Combine("broker");
        await using ServerProcess broker = await StartBrokerAsync(directory, dataDir, load, "--coordinator-key", coordinatorFile);
        using GrpcChannel channel = GrpcChannel.ForAddress(broker.Ready.Grpc);
        var client = new Protocol.Broker.KeyBroker.KeyBrokerClient(channel);
        string Sign(string json) => Jws.Sign(Encoding.UTF8.GetBytes(json), coordinator, coordinatorJwk.ComputeThumbprint(), "enclave-manifest+jws");
        string manifest = Sign("""{"type":"enclave-round-manifest/1","round":1,"roundId":"round-0001","modelSha256":"aa"}""");

        RecordManifestResponse first = await client.RecordManifestAsync(new RecordManifestRequest { SignedManifest = manifest });
        RpcException replay = await RecordFailsAsync(client, manifest);
        RpcException sameRound = await RecordFailsAsync(client, Sign("""{"type":"enclave-round-manifest/1","round":1,"roundId":"round-0001","modelSha256":"bb"}"""));
        RpcException wrongType = await RecordFailsAsync(client, Sign("""{"type":123}"""));
        RpcException noRound = await RecordFailsAsync(client, Sign("""{"type":"enclave-round-manifest/1"}"""));
        RpcException duplicate = await RecordFailsAsync(client, Sign("""{"type":"enclave-round-manifest/1","roundId":"r2","roundId":"r3"}"""));
        RpcException array = await RecordFailsAsync(client, Sign("""[{"type":"enclave-round-manifest/1"}]"""));
        RpcException unsigned = await RecordFailsAsync(client, "not.a.jws");

        Assert.NotEmpty(first.ReceiptId);
        Assert.Equal((StatusCode.AlreadyExists, "ManifestDuplicate"), (replay.StatusCode, ReasonCode(replay)));
        Assert.Equal((StatusCode.AlreadyExists, "ManifestDuplicate"), (sameRound.StatusCode, ReasonCode(sameRound)));
        Assert.All(new[] { wrongType, noRound, duplicate, array }, e => Assert.Equal((StatusCode.InvalidArgument, "MalformedManifest"), (e.StatusCode, ReasonCode(e))));
        Assert.Equal((StatusCode.PermissionDenied, "ManifestNotTrusted"), (unsigned.StatusCode, ReasonCode(unsigned)));
        Assert.Single(ReadAudit(dataDir), e => e.Kind == nameof(AuditEntryKind.RoundManifest));
        RecordManifestResponse next = await client.RecordManifestAsync(new RecordManifestRequest
        {
            SignedManifest = Sign("""{"type":"enclave-round-manifest/1","round":2,"roundId":"round-0002"}"""),
        });
        Assert.NotEqual(first.ReceiptId, next.ReceiptId);
        Assert.False(broker.HasExited);
        await VerifyAuditAsync(dataDir);
    }

    [Fact]
    public async Task Malformed_json_on_the_http_release_endpoint_is_a_400_with_a_code_never_a_500()
    {
        using var directory = new TempDirectory("enclave-json");
        using var load = new BrokerLoadClient(Issuer);
        string dataDir = directory.Combine("broker");
        await using ServerProcess broker = await StartBrokerAsync(directory, dataDir, load);
        using GrpcChannel channel = GrpcChannel.ForAddress(broker.Ready.Grpc);
        var client = new Protocol.Broker.KeyBroker.KeyBrokerClient(channel);
        await load.RegisterKeyAsync(client, KeyName);
        using var http = new HttpClient { BaseAddress = broker.Ready.Http };
        string path = $"/keys/{load.KeyId(KeyName)}/release";
        string token = load.Token((await client.GetNonceAsync(new GetNonceRequest())).Nonce, out _);
        int before = ReadAudit(dataDir).Count;

        string[] bodies =
        [
            $$"""{"target":"{{token}}","target":"{{token}}"}""",
            $$"""{"target":"{{token}}","nonce":"a","nonce":"b"}""",
            "{\"target\":\"" + token + "\",\"x\":{\"y\":1,\"y\":2}}",
            """{"target":123}""",
            $$"""{"target":"{{token}}","nonce":false}""",
            $$"""{"target":"{{token}}","enc":["RSA-OAEP-256"]}""",
            "{\"target\":\"" + token + "\",\"x\":" + new string('[', 64) + new string(']', 64) + "}",
            "{\"target\":",
            "[]",
            "null",
            "\"target\"",
            "{\"target\":\"\\uD800\"}",
        ];
        foreach (string body in bodies)
        {
            (HttpStatusCode status, string? code) = await PostAsync(http, path, body);
            Assert.True((status, code) == (HttpStatusCode.BadRequest, "BadParameter"), $"{status} {code} for {body[..Math.Min(60, body.Length)]}");
        }

        (HttpStatusCode tooLarge, string? tooLargeCode) = await PostAsync(http, path, $$"""{"target":"{{new string('a', 200 * 1024)}}"}""");
        Assert.Equal((HttpStatusCode.RequestEntityTooLarge, "RequestTooLarge"), (tooLarge, tooLargeCode));
        Assert.Equal(before, ReadAudit(dataDir).Count);

        // The endpoint still works, and the token refused above as malformed input was never spent.
        using HttpResponseMessage granted = await http.PostAsync(path, Json($$"""{"target":"{{token}}"}"""));
        Assert.Equal(HttpStatusCode.OK, granted.StatusCode);
        Assert.False(broker.HasExited);
    }

    private static Task<ServerProcess> StartBrokerAsync(TempDirectory directory, string dataDir, BrokerLoadClient load, params string[] more) =>
        ServerProcess.StartAsync(["serve", "broker", "--data-dir", dataDir, "--verifier-issuer", Issuer,
            "--verifier-keys", WriteJwks(directory, "verifier.jwks", load.VerifierKeys), "--simulated", .. more]);

    private static async Task<RpcException> RecordFailsAsync(Protocol.Broker.KeyBroker.KeyBrokerClient client, string signed) =>
        await Assert.ThrowsAsync<RpcException>(() => client.RecordManifestAsync(new RecordManifestRequest { SignedManifest = signed }).ResponseAsync);

    private static async Task<(HttpStatusCode, string?)> PostAsync(HttpClient http, string path, string body)
    {
        using HttpResponseMessage response = await http.PostAsync(path, Json(body));
        string text = await response.Content.ReadAsStringAsync();
        string? code = JsonNode.Parse(text)?["error"]?["code"]?.GetValue<string>();
        return (response.StatusCode, code);
    }

    private static StringContent Json(string text) => new(text, Encoding.UTF8, "application/json");
}
