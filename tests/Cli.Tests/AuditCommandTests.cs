using System.Text.Json.Nodes;
using Enclave.Cli.Commands;
using Enclave.KeyBroker.Audit;
using Enclave.KeyBroker.Storage;
using Enclave.KeyBroker.Transport;
using Enclave.Testing;
using Microsoft.Data.Sqlite;

namespace Enclave.Cli.Tests;

/// <summary>`enclave audit verify|prove|consistency|check-proof` on a broker store written by the real log.</summary>
public sealed class AuditCommandTests : IDisposable
{
    private readonly TempDirectory _store = new();

    public AuditCommandTests()
    {
        using var sqlite = new SqliteKeyBrokerStore(SqliteKeyBrokerStore.ConnectionStringFor(_store.Path));
        sqlite.Initialize();
        using AuditSigningKey key = AuditSigningKey.LoadOrCreate(_store.Combine(AuditSigningKey.DefaultFileName));
        File.WriteAllText(_store.Combine(BrokerServer.AuditPublicKeyFileName), key.PublicJwk.ToJson());
        var log = new AuditLog(sqlite, key, TimeProvider.System);
        for (int i = 1; i <= 5; i++)
        {
            log.Append(AuditEntryKind.ReleaseDenied, new JsonObject { ["jti"] = $"token-{i}", ["reason"] = "SvnTooLow" });
        }

        SqliteConnection.ClearAllPools();
    }

    [Fact]
    public async Task Proofs_written_by_prove_and_consistency_check_offline_with_only_the_key()
    {
        string key = _store.Combine(BrokerServer.AuditPublicKeyFileName);
        string inclusion = _store.Combine("proof-3.json");
        string consistency = _store.Combine("consistency.json");

        Assert.Equal(0, await Run("audit", "verify", "--store", _store.Path, "--json"));
        Assert.Equal(0, await Run("audit", "prove", "3", "--size", "4", "--store", _store.Path, "--json", "--out", inclusion));
        Assert.Equal(0, await Run("audit", "consistency", "--from", "2", "--to", "5", "--store", _store.Path, "--out", consistency));
        Assert.Equal(0, await Run("audit", "check-proof", inclusion, "--key", key));
        Assert.Equal(0, await Run("audit", "check-proof", consistency, "--key", key));
        Assert.Equal(0, await Run("audit", "verify", "--store", _store.Path, "--known-head", inclusion));

        JsonObject proof = JsonNode.Parse(File.ReadAllText(inclusion))!.AsObject();
        Assert.Equal(2, proof["leafIndex"]!.GetValue<long>());
        Assert.Equal(4, proof["treeSize"]!.GetValue<long>());
        proof["entry"]!["body"] = proof["entry"]!["body"]!.GetValue<string>().Replace("SvnTooLow", "Granted", StringComparison.Ordinal);
        File.WriteAllText(inclusion, proof.ToJsonString());
        Assert.Equal(1, await Run("audit", "check-proof", inclusion, "--key", key));
    }

    [Fact]
    public async Task Verify_fails_on_an_edited_store()
    {
        using (var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = _store.Combine(SqliteKeyBrokerStore.DefaultFileName), Pooling = false }.ToString()))
        {
            connection.Open();
            using SqliteCommand command = connection.CreateCommand();
            command.CommandText = "UPDATE audit_entries SET body = replace(body, 'SvnTooLow', 'Granted') WHERE seq = 2";
            Assert.Equal(1, command.ExecuteNonQuery());
        }

        Assert.Equal(1, await Run("audit", "verify", "--store", _store.Path));
        AuditVerificationResult result = AuditCommands.Verify(_store.Path, null);
        Assert.Equal(2, result.FirstBadSequence);
    }

    [Fact]
    public async Task Out_of_range_entries_are_usage_errors()
    {
        Assert.Equal(2, await Run("audit", "prove", "9", "--store", _store.Path));
        Assert.Equal(2, await Run("audit", "verify", "--store", _store.Combine("missing")));
    }

    public void Dispose() => _store.Dispose();

    private static Task<int> Run(params string[] args) =>
        new System.CommandLine.RootCommand { AuditCommands.Create() }.Parse(args).InvokeAsync();
}
