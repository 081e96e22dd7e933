using Microsoft.Data.Sqlite;

namespace Enclave.KeyBroker.Storage;

internal sealed class SqliteWriteTransaction : IKeyBrokerTransaction
{
    private readonly SqliteConnection _connection;
    private readonly SqliteTransaction _transaction;

    public SqliteWriteTransaction(SqliteConnection connection, SqliteTransaction transaction)
    {
        _connection = connection;
        _transaction = transaction;
    }

    public void InsertNonce(byte[] nonceHash, DateTimeOffset expiresAt)
    {
        using SqliteCommand command = Command("INSERT INTO nonces (nonce_hash, expires_at_ms) VALUES ($hash, $expires)");
        command.Parameters.AddWithValue("$hash", nonceHash);
        command.Parameters.AddWithValue("$expires", SqliteKeyBrokerStore.ToMs(expiresAt));
        command.ExecuteNonQuery();
    }

    public bool TryConsumeNonce(byte[] nonceHash, DateTimeOffset now)
    {
        using SqliteCommand command = Command("DELETE FROM nonces WHERE nonce_hash = $hash AND expires_at_ms > $now");
        command.Parameters.AddWithValue("$hash", nonceHash);
        command.Parameters.AddWithValue("$now", SqliteKeyBrokerStore.ToMs(now));
        return command.ExecuteNonQuery() == 1;
    }

    public void PurgeExpired(DateTimeOffset now)
    {
        long ms = SqliteKeyBrokerStore.ToMs(now);
        foreach (string sql in new[]
        {
            "DELETE FROM nonces WHERE expires_at_ms <= $now",
            "DELETE FROM owner_requests WHERE expires_at_ms <= $now",
        })
        {
            using SqliteCommand command = Command(sql);
            command.Parameters.AddWithValue("$now", ms);
            command.ExecuteNonQuery();
        }
    }

    public bool TryRecordOwnerRequest(string requestId, DateTimeOffset expiresAt)
    {
        using SqliteCommand command = Command("INSERT OR IGNORE INTO owner_requests (request_id, expires_at_ms) VALUES ($id, $expires)");
        command.Parameters.AddWithValue("$id", requestId);
        command.Parameters.AddWithValue("$expires", SqliteKeyBrokerStore.ToMs(expiresAt));
        return command.ExecuteNonQuery() == 1;
    }

    public KeyVersionRecord? GetLatestKey(string name) =>
        SqliteKeyBrokerStore.QueryLatestKey(_connection, _transaction, name);

    public void InsertKeyVersion(KeyVersionRecord record)
    {
        using SqliteCommand command = Command("""
            INSERT INTO keys (name, version, owner_thumbprint, wrapped_key, policy_json, enabled, created_at_ms)
            VALUES ($name, $version, $owner, $wrapped, $policy, $enabled, $created)
            """);
        AddKeyParameters(command, record);
        command.ExecuteNonQuery();
    }

    public void UpdateKeyVersion(KeyVersionRecord record)
    {
        using SqliteCommand command = Command("""
            UPDATE keys SET wrapped_key = $wrapped, policy_json = $policy, enabled = $enabled
            WHERE name = $name AND version = $version AND owner_thumbprint = $owner AND created_at_ms = $created
            """);
        AddKeyParameters(command, record);
        if (command.ExecuteNonQuery() != 1)
        {
            throw new InvalidOperationException($"Key version {record.Name}/{record.Version} does not exist.");
        }
    }

    public AuditEntryRecord? GetLastAuditEntry()
    {
        using SqliteCommand command = Command(
            "SELECT seq, time_ms, kind, body, prev_hash, entry_hash FROM audit_entries ORDER BY seq DESC LIMIT 1");
        using SqliteDataReader reader = command.ExecuteReader();
        return reader.Read() ? SqliteKeyBrokerStore.ReadAuditEntry(reader) : null;
    }

    public AuditHeadRecord? GetAuditHead() => SqliteKeyBrokerStore.QueryAuditHead(_connection, _transaction);

    public void InsertAuditEntry(AuditEntryRecord entry)
    {
        using SqliteCommand command = Command("""
            INSERT INTO audit_entries (seq, time_ms, kind, body, prev_hash, entry_hash)
            VALUES ($seq, $time, $kind, $body, $prev, $hash)
            """);
        command.Parameters.AddWithValue("$seq", entry.Sequence);
        command.Parameters.AddWithValue("$time", SqliteKeyBrokerStore.ToMs(entry.Time));
        command.Parameters.AddWithValue("$kind", entry.Kind);
        command.Parameters.AddWithValue("$body", entry.Body);
        command.Parameters.AddWithValue("$prev", entry.PreviousHash);
        command.Parameters.AddWithValue("$hash", entry.EntryHash);
        command.ExecuteNonQuery();
    }

    public void SetAuditHead(AuditHeadRecord head)
    {
        using SqliteCommand command = Command("""
            INSERT INTO audit_head (id, size, head_hash, time_ms, signature) VALUES (1, $size, $hash, $time, $sig)
            ON CONFLICT (id) DO UPDATE SET size = excluded.size, head_hash = excluded.head_hash,
                time_ms = excluded.time_ms, signature = excluded.signature
            """);
        command.Parameters.AddWithValue("$size", head.Size);
        command.Parameters.AddWithValue("$hash", head.HeadHash);
        command.Parameters.AddWithValue("$time", SqliteKeyBrokerStore.ToMs(head.Time));
        command.Parameters.AddWithValue("$sig", head.Signature);
        command.ExecuteNonQuery();
    }

    public void Commit() => _transaction.Commit();

    public void Dispose()
    {
        _transaction.Dispose();
        _connection.Dispose();
    }

    private static void AddKeyParameters(SqliteCommand command, KeyVersionRecord record)
    {
        command.Parameters.AddWithValue("$name", record.Name);
        command.Parameters.AddWithValue("$version", record.Version);
        command.Parameters.AddWithValue("$owner", record.OwnerThumbprint);
        command.Parameters.AddWithValue("$wrapped", record.WrappedKey);
        command.Parameters.AddWithValue("$policy", record.PolicyJson);
        command.Parameters.AddWithValue("$enabled", record.Enabled ? 1 : 0);
        command.Parameters.AddWithValue("$created", SqliteKeyBrokerStore.ToMs(record.CreatedAt));
    }

    private SqliteCommand Command(string sql)
    {
        SqliteCommand command = _connection.CreateCommand();
        command.Transaction = _transaction;
        command.CommandText = sql;
        return command;
    }
}
