using System.Text;
using System.Text.Json.Nodes;
using Enclave.Crypto;
using Enclave.Testing;
using Microsoft.Data.Sqlite;

namespace Enclave.Integration.Tests;

public sealed class DemoEndToEndTests : IClassFixture<DemoFixture>
{
    private readonly DemoFixture _demo;

    public DemoEndToEndTests(DemoFixture demo) => _demo = demo;

    [Fact]
    public void TheFederationCompletesEveryRoundWithAllThreeRegions()
    {
        Assert.True(_demo.Result.ExitCode == 0, _demo.Result.Output + _demo.Result.Error);
        JsonArray rounds = _demo.Json["rounds"]!.AsArray();
        Assert.Equal(2, rounds.Count);
        // The measurement of the configured image the hosts ran: the build plus its pinned trust anchors.
        string measurement = Convert.ToHexStringLower(CodeManifest.Measure(Path.Combine(_demo.WorkDirectory, "enclave-image")));
        Assert.NotEqual(measurement, Convert.ToHexStringLower(CodeManifest.Measure(RepositoryPaths.EnclaveAppDirectory)));
        foreach (JsonNode? round in rounds)
        {
            Assert.True(round!["completed"]!.GetValue<bool>());
            JsonArray participants = round["participants"]!.AsArray();
            Assert.Equal(["ap-south", "eu-west", "us-east"], participants.Select(p => p!["region"]!.GetValue<string>()).Order());
            Assert.All(participants, p => Assert.Equal(measurement, p!["measurement"]!.GetValue<string>()));
            Assert.Equal(3, participants.Select(p => p!["tokenId"]!.GetValue<string>()).Distinct().Count());
        }

        // 3,000 examples a region are enough to learn well beyond chance (0.1) in two rounds.
        Assert.InRange(_demo.Json["finalAccuracy"]!.GetValue<double>(), 0.6, 1.0);
    }

    [Fact]
    public void ExactlyTheTwoForbiddenAttemptsAreDeniedWithTheirReasons()
    {
        JsonObject releases = _demo.Json["keyReleases"]!.AsObject();
        Assert.Equal(6, releases["granted"]!.GetValue<int>());
        Assert.Equal(2, releases["denied"]!.GetValue<int>());
        var denials = releases["denials"]!.AsArray().Select(d => (d!["region"]!.GetValue<string>(), d["reason"]!.GetValue<string>())).ToHashSet();
        Assert.Contains(("eu-west", "MeasurementNotAllowed"), denials);
        Assert.Contains(("us-east", "RegionNotAllowed"), denials);
    }

    [Fact]
    public void TokensAreSimulatedEs256JwtsWithAzureStyleClaims()
    {
        string tokenId = _demo.Json["rounds"]![0]!["participants"]![0]!["tokenId"]!.GetValue<string>();
        JsonObject grant = AuditBodies("ReleaseGranted").First(b => b["jti"]!.GetValue<string>() == tokenId);
        Assert.Equal("simulated", grant["attestationType"]!.GetValue<string>());
        Assert.Matches("^[0-9a-f]{64}$", grant["measurement"]!.GetValue<string>());
    }

    [Fact]
    public async Task TheAuditLogVerifiesAndAnyEditOfAStoredRecordIsDetected()
    {
        Assert.True(_demo.Json["audit"]!["verified"]!.GetValue<bool>());
        string broker = Path.Combine(_demo.WorkDirectory, "broker");
        CliResult ok = await CliRunner.RunAsync(TimeSpan.FromMinutes(1), "audit", "verify", "--store", broker);
        Assert.Equal(0, ok.ExitCode);

        using var copy = new TempDirectory("enclave-audit");
        foreach (string file in Directory.GetFiles(broker))
        {
            File.Copy(file, Path.Combine(copy.Path, Path.GetFileName(file)));
        }

        await using (var connection = new SqliteConnection($"Data Source={Path.Combine(copy.Path, "keybroker.db")}"))
        {
            await connection.OpenAsync();
            await using (var drop = connection.CreateCommand())
            {
                // The store protects the log with triggers; an attacker with the file removes them first.
                drop.CommandText = "SELECT name FROM sqlite_master WHERE type='trigger'";
                var triggers = new List<string>();
                await using (var reader = await drop.ExecuteReaderAsync())
                {
                    while (await reader.ReadAsync())
                    {
                        triggers.Add(reader.GetString(0));
                    }
                }

                foreach (string trigger in triggers)
                {
                    await using var command = connection.CreateCommand();
                    command.CommandText = $"DROP TRIGGER \"{trigger}\"";
                    await command.ExecuteNonQueryAsync();
                }
            }

            await using var edit = connection.CreateCommand();
            edit.CommandText = "UPDATE audit_entries SET body = replace(body, 'RegionNotAllowed', 'Granted') WHERE body LIKE '%RegionNotAllowed%'";
            Assert.True(await edit.ExecuteNonQueryAsync() > 0);
        }

        SqliteConnection.ClearAllPools();
        CliResult tampered = await CliRunner.RunAsync(TimeSpan.FromMinutes(1), "audit", "verify", "--store", copy.Path, "--json");
        Assert.Equal(1, tampered.ExitCode);
        JsonObject result = (JsonObject)JsonNode.Parse(tampered.Output)!;
        Assert.False(result["verified"]!.GetValue<bool>());
        Assert.NotNull(result["firstBadSequence"]);
    }

    [Fact]
    public void EveryRoundHasASignedManifestInTheAuditLog()
    {
        string coordinatorKey = File.ReadAllText(Path.Combine(_demo.WorkDirectory, "aggregator", "coordinator.jwk"));
        Jwk key = Jwk.Parse(coordinatorKey);
        List<JsonObject> manifests = AuditBodies("RoundManifest");
        Assert.Equal(2, manifests.Count);
        foreach (JsonObject entry in manifests)
        {
            JwsVerified verified = Jws.Verify(entry["signedManifest"]!.GetValue<string>(), kid => kid == key.ComputeThumbprint() ? key : null);
            JsonObject manifest = (JsonObject)JsonNode.Parse(Encoding.UTF8.GetString(verified.Payload))!;
            Assert.Equal(3, manifest["participants"]!.AsArray().Count);
            Assert.Matches("^[0-9a-f]{64}$", manifest["aggregateSha256"]!.GetValue<string>());
            Assert.All(manifest["participants"]!.AsArray(), p => Assert.Matches("^[0-9a-f]{64}$", p!["maskedInputSha256"]!.GetValue<string>()));
            Assert.Matches("^[0-9a-f]{64}$", manifest["modelSha256"]!.GetValue<string>());
            Assert.Matches("^[0-9a-f]{64}$", manifest["specificationSha256"]!.GetValue<string>());
            Assert.All(manifest["participants"]!.AsArray(), p => Assert.Equal($"fmnist-{p!["region"]!.GetValue<string>()}", p["datasetId"]!.GetValue<string>()));
            Assert.All(manifest["participants"]!.AsArray(), p => Assert.EndsWith($"/{p!["region"]!.GetValue<string>()}-data", p["keyId"]!.GetValue<string>(), StringComparison.Ordinal));
        }

        // Each round's manifest is unique to its round id.
        Assert.Equal(2, manifests.Select(m => m["signedManifest"]!.GetValue<string>()).Distinct().Count());
    }

    private List<JsonObject> AuditBodies(string kind)
    {
        using var connection = new SqliteConnection($"Data Source={Path.Combine(_demo.WorkDirectory, "broker", "keybroker.db")};Mode=ReadOnly");
        connection.Open();
        using var command = connection.CreateCommand();
        command.CommandText = "SELECT body FROM audit_entries WHERE kind = $kind ORDER BY seq";
        command.Parameters.AddWithValue("$kind", kind);
        var bodies = new List<JsonObject>();
        using var reader = command.ExecuteReader();
        while (reader.Read())
        {
            bodies.Add((JsonObject)JsonNode.Parse(reader.GetString(0))!);
        }

        SqliteConnection.ClearAllPools();
        return bodies;
    }
}
