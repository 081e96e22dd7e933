// Attack 5 of the issue, with real processes: captured enrolments (here read back from the broker's audit log,
// where every auditor can see them) are resent after the platform moved, to put the platform back in its old region.
// The verifier refuses it (EnrollmentReplayed), before and after a restart, the platform stays where it moved,
// and the broker refuses to record it a second time.
using System.Security.Cryptography;
using System.Text;
using System.Text.Json.Nodes;
using Enclave.AttestationVerifier.Endorsements;
using Enclave.Crypto;
using Enclave.EnclaveApp.Attestation;
using Enclave.Protocol.Verifier;
using Enclave.Testing;
using Google.Protobuf;
using Grpc.Core;
using Grpc.Net.Client;
using Microsoft.Data.Sqlite;

namespace Enclave.Integration.Tests;

public sealed class EnrollmentReplayTests : IDisposable
{
    private static readonly TimeSpan s_cliTimeout = TimeSpan.FromSeconds(60);

    private readonly TempDirectory _directory = new("enclave-enrol-replay");

    public void Dispose() => _directory.Dispose();

    [Fact]
    public async Task ACapturedEnrolmentResentAfterAMove_IsRefusedByVerifierAndBroker_AlsoAfterAVerifierRestart()
    {
        string root = _directory.Combine("root");
        string platformDir = _directory.Combine("platform");
        string teamKey = _directory.Combine("team.key");
        SimulatedPlatformAuthority.CreateRoot(root);
        string platformId = SimulatedPlatformAuthority.CreatePlatform(root, platformDir);
        await Cli(0, "node", "keygen", "--out", teamKey);
        string[] verifierArguments =
        [
            "serve", "verifier", "--data-dir", _directory.Combine("verifier"), "--allow-simulated",
            "--simulated-root", Path.Combine(root, SimulatedPlatformAuthority.RootCertificateFileName), "--enrollment-key", teamKey + ".jwk",
        ];
        ServerProcess verifier = await ServerProcess.StartAsync(verifierArguments);
        try
        {
            string issuer = verifier.Ready.Http!.ToString().TrimEnd('/');
            string verifierKeys = _directory.Combine("verifier.jwks");
            using (var http = new HttpClient())
            {
                await File.WriteAllTextAsync(verifierKeys, await http.GetStringAsync(issuer + "/certs"));
            }

            string brokerData = _directory.Combine("broker");
            await using ServerProcess broker = await ServerProcess.StartAsync(
                "serve", "broker", "--data-dir", brokerData, "--simulated", "--verifier-issuer", issuer, "--verifier-keys", verifierKeys,
                "--enrollment-key", teamKey + ".jwk");
            string verifierUrl = verifier.Ready.Grpc.ToString();
            string brokerUrl = broker.Ready.Grpc.ToString();

            // The security team: enrol P in eu-west (seq 1), move it to us-east (seq 2), back to eu-west (seq 3) and
            // to us-east again (seq 4), each recorded by the broker.
            string[] regions = ["eu-west", "us-east", "eu-west", "us-east"];
            for (int i = 0; i < regions.Length; i++)
            {
                string seq = (i + 1).ToString(System.Globalization.CultureInfo.InvariantCulture);
                await Cli(0, ["node", "enroll", "--verifier", verifierUrl, "--key", teamKey, "--platform-id", platformId, "--region", regions[i], "--seq", seq, "--broker", brokerUrl, .. i == 0 ? Array.Empty<string>() : ["--replace"]]);
            }

            Assert.Equal("us-east", await AttestedRegionAsync(verifier, platformDir));

            // The attacker: the eu-west enrolments, captured from the audit log, resent verbatim to both services.
            // The move of seq 3 carries "replace": true, so before jti and seq it put P back in eu-west.
            List<(string Region, long Seq, string Jti, string SignedEnrollment)> captured = ReadEnrolments(brokerData);
            string firstEuWest = Assert.Single(captured, e => e.Seq == 1).SignedEnrollment;
            string moveToEuWest = Assert.Single(captured, e => e.Seq == 3).SignedEnrollment;
            Assert.Equal("EnrollmentReplayed", await EnrollRawAsync(verifier, moveToEuWest));
            Assert.Equal("EnrollmentReplayed", await EnrollRawAsync(verifier, firstEuWest));
            Assert.Equal("us-east", await AttestedRegionAsync(verifier, platformDir));
            Assert.Equal("EnrollmentReplayed", await RecordRawAsync(broker, moveToEuWest));
            Assert.Equal("EnrollmentReplayed", await RecordRawAsync(broker, firstEuWest));

            // A newly signed enrolment whose seq is not above the platform's current one is refused too.
            CliResult older = await Cli(2, "node", "enroll", "--verifier", verifierUrl, "--key", teamKey, "--platform-id", platformId, "--region", "eu-west", "--replace", "--seq", "4", "--broker", brokerUrl);
            Assert.Contains("EnrollmentSuperseded", older.Error + older.Output, StringComparison.Ordinal);

            // A restarted verifier still knows the enrolment was applied.
            await verifier.DisposeAsync();
            verifier = await ServerProcess.StartAsync(verifierArguments);
            Assert.Equal("EnrollmentReplayed", await EnrollRawAsync(verifier, moveToEuWest));
            Assert.Equal("us-east", await AttestedRegionAsync(verifier, platformDir));

            // The broker's audit log holds each enrolment once, in order, nothing else.
            List<(string Region, long Seq, string Jti, string SignedEnrollment)> recorded = ReadEnrolments(brokerData);
            Assert.Equal([("eu-west", 1L), ("us-east", 2L), ("eu-west", 3L), ("us-east", 4L)], recorded.Select(e => (e.Region, e.Seq)));
            Assert.Equal(4, recorded.Select(e => e.Jti).Distinct(StringComparer.Ordinal).Count());
        }
        finally
        {
            await verifier.DisposeAsync();
        }
    }

    private static async Task<CliResult> Cli(int expectedExitCode, params string[] arguments)
    {
        CliResult result = await CliRunner.RunAsync(s_cliTimeout, arguments);
        Assert.True(result.ExitCode == expectedExitCode, $"enclave {string.Join(' ', arguments)} exited {result.ExitCode}: {result.Output} {result.Error}");
        return result;
    }

    /// <summary>Sends a signed enrolment as is; the reason code of the refusal (fails when it is accepted).</summary>
    private static async Task<string> EnrollRawAsync(ServerProcess verifier, string signedEnrollment)
    {
        using GrpcChannel channel = GrpcChannel.ForAddress(verifier.Ready.Grpc);
        var client = new Protocol.Verifier.AttestationVerifier.AttestationVerifierClient(channel);
        RpcException refused = await Assert.ThrowsAsync<RpcException>(async () => await client.EnrollNodeAsync(new EnrollNodeRequest { SignedEnrollment = signedEnrollment }));
        Assert.Equal(StatusCode.PermissionDenied, refused.StatusCode);
        return refused.Trailers.GetValue("reason-code")!;
    }

    private static async Task<string> RecordRawAsync(ServerProcess broker, string signedEnrollment)
    {
        using GrpcChannel channel = GrpcChannel.ForAddress(broker.Ready.Grpc);
        var client = new Protocol.Broker.KeyBroker.KeyBrokerClient(channel);
        RpcException refused = await Assert.ThrowsAsync<RpcException>(async () => await client.RecordEnrollmentAsync(new Protocol.Broker.RecordEnrollmentRequest { SignedEnrollment = signedEnrollment }));
        Assert.Equal(StatusCode.PermissionDenied, refused.StatusCode);
        return refused.Trailers.GetValue("reason-code")!;
    }

    /// <summary>The region the verifier puts in a token for fresh evidence of the platform.</summary>
    private static async Task<string> AttestedRegionAsync(ServerProcess verifier, string platformDir)
    {
        using SimulatedPlatform platform = SimulatedPlatform.Load(platformDir, RepositoryPaths.EnclaveAppDirectory);
        using var encryption = ECDiffieHellman.Create(ECCurve.NamedCurves.nistP256);
        using var signing = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        byte[] runtime = Encoding.UTF8.GetBytes(new JsonObject
        {
            ["keys"] = new JsonArray(
                Jwk.FromEcPublic(encryption.ExportParameters(false), "enc", "enc").ToJsonObject(),
                Jwk.FromEcPublic(signing.ExportParameters(false), "sig", "sig").ToJsonObject()),
            ["nonce"] = Base64Url.Encode(RandomNumberGenerator.GetBytes(32)),
            ["round"] = "round-1",
        }.ToJsonString());
        using GrpcChannel channel = GrpcChannel.ForAddress(verifier.Ready.Grpc);
        var client = new Protocol.Verifier.AttestationVerifier.AttestationVerifierClient(channel);
        AttestResponse response = await client.AttestAsync(new AttestRequest
        {
            EvidenceFormat = "simulated",
            Evidence = ByteString.CopyFrom(platform.CreateEvidence(SHA512.HashData(runtime))),
            RuntimeData = ByteString.CopyFrom(runtime),
        });
        JsonNode claims = JsonNode.Parse(Base64Url.Decode(response.Token.Split('.')[1]))!;
        return claims["x-enclave-region"]!.GetValue<string>();
    }

    private static List<(string Region, long Seq, string Jti, string SignedEnrollment)> ReadEnrolments(string brokerData)
    {
        using var connection = new SqliteConnection(new SqliteConnectionStringBuilder
        {
            DataSource = Path.Combine(brokerData, "keybroker.db"),
            Mode = SqliteOpenMode.ReadOnly,
            Pooling = false,
        }.ToString());
        connection.Open();
        using SqliteCommand command = connection.CreateCommand();
        command.CommandText = "SELECT body FROM audit_entries WHERE kind = 'NodeEnrolled' ORDER BY seq";
        using SqliteDataReader reader = command.ExecuteReader();
        List<(string, long, string, string)> entries = [];
        while (reader.Read())
        {
            JsonNode body = JsonNode.Parse(reader.GetString(0))!;
            entries.Add((body["region"]!.GetValue<string>(), body["seq"]!.GetValue<long>(), body["jti"]!.GetValue<string>(), body["signedEnrollment"]!.GetValue<string>()));
        }

        return entries;
    }
}
