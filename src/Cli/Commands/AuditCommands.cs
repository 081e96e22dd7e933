using System.CommandLine;
using System.Text.Json.Nodes;
using Enclave.Crypto;
using Enclave.KeyBroker.Audit;
using Enclave.KeyBroker.Storage;
using Enclave.KeyBroker.Transport;

namespace Enclave.Cli.Commands;

/// <summary>The auditor's verbs: verify the broker's log offline, from a copy of its store.</summary>
internal static class AuditCommands
{
    public static Command Create()
    {
        var store = new Option<string>("--store") { Description = "the broker's data folder (or a copy of it); holds the SQLite store and audit.jwk" };
        var postgres = new Option<string>("--postgres") { Description = "verify the log in this PostgreSQL database instead of the folder's SQLite store" };
        var auditKey = new Option<string>("--audit-key") { Description = "the broker's audit public JWK an auditor kept (default: the one in the store folder)" };
        var json = new Option<bool>("--json") { Description = "print the result as JSON" };
        var verify = new Command("verify", "Verify the audit log: hash chain, signed head, no edits, deletions, reorders or truncation.") { store, auditKey, json, postgres };
        verify.SetAction(parse => CliErrors.RunAsync(() =>
        {
            AuditVerificationResult result = Verify(parse.GetValue(store), parse.GetValue(auditKey), parse.GetValue(postgres));
            if (parse.GetValue(json))
            {
                Console.WriteLine(new JsonObject
                {
                    ["verified"] = result.IsValid,
                    ["entries"] = result.VerifiedEntries,
                    ["firstBadSequence"] = result.FirstBadSequence,
                    ["fault"] = result.Fault?.ToString(),
                    ["detail"] = result.Detail,
                }.ToJsonString());
            }
            else
            {
                Console.WriteLine(result.IsValid
                    ? $"audit log verified: {result.VerifiedEntries} entries"
                    : $"audit log INVALID at entry {result.FirstBadSequence}: {result.Fault} {result.Detail}");
            }

            return Task.FromResult(result.IsValid ? 0 : 1);
        }));
        return new Command("audit", "Audit the key broker's log.") { verify };
    }

    public static AuditVerificationResult Verify(string? storeDirectory, string? auditKeyPath, string? postgres = null)
    {
        if (postgres is not null)
        {
            string keyPath = auditKeyPath
                ?? (storeDirectory is null ? throw new CliException("--postgres needs --audit-key or --store (the folder with audit.jwk)") : Path.Combine(storeDirectory, BrokerServer.AuditPublicKeyFileName));
            Jwk auditPublicKey = KeyFiles.ReadPublicJwk(keyPath);
            using var shared = new PostgresKeyBrokerStore(postgres);
            return AuditLog.Verify(shared, auditPublicKey);
        }

        if (storeDirectory is null)
        {
            throw new CliException("give --store (the broker's data folder) or --postgres");
        }

        string database = Path.Combine(storeDirectory, SqliteKeyBrokerStore.DefaultFileName);
        if (!File.Exists(database))
        {
            throw new CliException($"no broker store at {database}");
        }

        string published = Path.Combine(storeDirectory, BrokerServer.AuditPublicKeyFileName);
        Jwk key = KeyFiles.ReadPublicJwk(auditKeyPath ?? published);
        using var sqlite = new SqliteKeyBrokerStore(SqliteKeyBrokerStore.ConnectionStringFor(storeDirectory));
        return AuditLog.Verify(sqlite, key);
    }
}
