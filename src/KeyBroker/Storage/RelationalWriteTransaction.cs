using System.Data.Common;
using Enclave.KeyBroker.Tokens;

namespace Enclave.KeyBroker.Storage;

/// <summary>One physical write transaction, holding the database's writer lock from its begin to its end. Every
/// statement goes to the database at once, except the audit head row: it only ever holds the latest signed tree head,
/// so the transaction keeps the head it was last given and writes it once, just before COMMIT. It also remembers the
/// last audit entry it appended, so consecutive appends (of one group commit) do not read it back.</summary>
internal sealed class RelationalWriteTransaction : IKeyBrokerTransaction
{
    private const string SetHeadSql = """
        INSERT INTO audit_head (id, size, head_hash, time_ms, signature) VALUES (1, @size, @hash, @time, @sig)
        ON CONFLICT (id) DO UPDATE SET size = excluded.size, head_hash = excluded.head_hash,
            time_ms = excluded.time_ms, signature = excluded.signature
        """;

    private readonly RelationalStore _store;
    private readonly DbConnection _connection;
    private readonly DbTransaction _transaction;
    private readonly bool _releasesWriterLock;
    private bool _ended;
    private AuditHeadRecord? _pendingHead;
    private AuditEntryRecord? _lastEntry;
    private bool _lastEntryKnown;
    private (AuditHeadRecord? Head, AuditEntryRecord? Last, bool LastKnown) _atSavepoint;

    public RelationalWriteTransaction(RelationalStore store, DbConnection connection, DbTransaction transaction, bool releasesWriterLock)
    {
        _store = store;
        _connection = connection;
        _transaction = transaction;
        _releasesWriterLock = releasesWriterLock;
    }

    public NonceConsumption ConsumeNonce(byte[] nonceHash, DateTimeOffset expiresAt, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(nonceHash);
        long expires = RelationalStore.ToMs(expiresAt);
        if (expires <= RelationalStore.ToMs(now) || expires <= _store.PurgedNoncesUpToMs)
        {
            return NonceConsumption.Expired;
        }

        return Execute(
            "INSERT INTO consumed_nonces (nonce_hash, expires_at_ms) VALUES (@hash, @expires) ON CONFLICT (nonce_hash) DO NOTHING",
            ("@hash", nonceHash), ("@expires", expires)) == 1
            ? NonceConsumption.Consumed
            : NonceConsumption.Replayed;
    }

    public void PurgeExpired(DateTimeOffset now)
    {
        long ms = RelationalStore.ToMs(now);
        if (!_store.PurgeDue(ms))
        {
            return;
        }

        long nonceCutoff = RelationalStore.ToMs(now - NonceStore.ConsumedRetention);
        _store.PurgedNoncesUpToMs = nonceCutoff;
        Execute("DELETE FROM consumed_nonces WHERE expires_at_ms <= @cutoff", ("@cutoff", nonceCutoff));
        Execute("DELETE FROM owner_requests WHERE expires_at_ms <= @now", ("@now", ms));
    }

    public bool TryRecordOwnerRequest(string requestId, DateTimeOffset expiresAt) => Execute(
        "INSERT INTO owner_requests (request_id, expires_at_ms) VALUES (@id, @expires) ON CONFLICT (request_id) DO NOTHING",
        ("@id", requestId), ("@expires", RelationalStore.ToMs(expiresAt))) == 1;

    /// <summary>Both checks read in one statement under the writer lock, so nothing can record the same id or a
    /// higher sequence between them and the insert; the table's keys refuse a duplicate regardless.</summary>
    public Audit.EnrollmentRecording TryRecordEnrollment(string enrollmentId, string platformId, long sequence)
    {
        ArgumentNullException.ThrowIfNull(enrollmentId);
        ArgumentNullException.ThrowIfNull(platformId);
        using (DbCommand command = Command(
            """
            SELECT (SELECT COUNT(*) FROM node_enrollments WHERE enrollment_id = @id),
                   (SELECT COUNT(*) FROM node_enrollments WHERE platform_id = @platform AND sequence >= @sequence)
            """,
            ("@id", enrollmentId), ("@platform", platformId), ("@sequence", sequence)))
        using (DbDataReader reader = command.ExecuteReader())
        {
            reader.Read();
            if (RelationalStore.Int(reader, 0) > 0 || RelationalStore.Int(reader, 1) > 0)
            {
                return RelationalStore.Int(reader, 0) > 0 ? Audit.EnrollmentRecording.Replayed : Audit.EnrollmentRecording.Superseded;
            }
        }

        Execute("INSERT INTO node_enrollments (enrollment_id, platform_id, sequence) VALUES (@id, @platform, @sequence)",
            ("@id", enrollmentId), ("@platform", platformId), ("@sequence", sequence));
        return Audit.EnrollmentRecording.Recorded;
    }

    public KeyVersionRecord? GetLatestKey(string name) => RelationalStore.QueryLatestKey(_connection, Open, name);

    public void InsertKeyVersion(KeyVersionRecord record)
    {
        ArgumentNullException.ThrowIfNull(record);
        Execute(
            """
            INSERT INTO keys (name, version, owner_thumbprint, wrapped_key, policy_json, enabled, created_at_ms)
            VALUES (@name, @version, @owner, @wrapped, @policy, @enabled, @created)
            """,
            KeyParameters(record));
    }

    public void UpdateKeyVersion(KeyVersionRecord record)
    {
        ArgumentNullException.ThrowIfNull(record);
        int changed = Execute(
            """
            UPDATE keys SET wrapped_key = @wrapped, policy_json = @policy, enabled = @enabled
            WHERE name = @name AND version = @version AND owner_thumbprint = @owner AND created_at_ms = @created
            """,
            KeyParameters(record));
        if (changed != 1)
        {
            throw new InvalidOperationException($"Key version {record.Name}/{record.Version} does not exist.");
        }
    }

    public byte[]? GetPrivacyBudget(string name)
    {
        using DbCommand command = Command("SELECT rdp FROM privacy_budgets WHERE key_name = @name", ("@name", name));
        return command.ExecuteScalar() as byte[];
    }

    public void SetPrivacyBudget(string name, byte[] rdp) => Execute(
        "INSERT INTO privacy_budgets (key_name, rdp) VALUES (@name, @rdp) ON CONFLICT (key_name) DO UPDATE SET rdp = excluded.rdp",
        ("@name", name), ("@rdp", rdp));

    public AuditEntryRecord? GetLastAuditEntry()
    {
        if (!_lastEntryKnown)
        {
            using DbCommand command = Command($"SELECT {RelationalStore.AuditColumns} FROM audit_entries ORDER BY seq DESC LIMIT 1");
            using DbDataReader reader = command.ExecuteReader();
            _lastEntry = reader.Read() ? RelationalStore.ReadAuditEntry(reader) : null;
            _lastEntryKnown = true;
        }

        return _lastEntry;
    }

    public IReadOnlyList<byte[]> ReadAuditLeafHashes(long upToSequence)
    {
        using DbCommand command = Command("SELECT entry_hash FROM audit_entries WHERE seq <= @to ORDER BY seq", ("@to", upToSequence));
        using DbDataReader reader = command.ExecuteReader();
        List<byte[]> leaves = [];
        while (reader.Read())
        {
            leaves.Add((byte[])reader.GetValue(0));
        }

        return leaves;
    }

    public AuditHeadRecord? GetAuditHead() => _pendingHead ?? RelationalStore.QueryAuditHead(_connection, Open);

    public void InsertAuditEntry(AuditEntryRecord entry)
    {
        ArgumentNullException.ThrowIfNull(entry);
        Execute(
            """
            INSERT INTO audit_entries (seq, time_ms, kind, body, prev_hash, entry_hash)
            VALUES (@seq, @time, @kind, @body, @prev, @hash)
            """,
            ("@seq", entry.Sequence), ("@time", RelationalStore.ToMs(entry.Time)), ("@kind", entry.Kind),
            ("@body", entry.Body), ("@prev", entry.PreviousHash), ("@hash", entry.EntryHash));
        (_lastEntry, _lastEntryKnown) = (entry, true);
    }

    /// <summary>Keeps the head; it is written just before COMMIT.</summary>
    public void SetAuditHead(AuditHeadRecord head)
    {
        ArgumentNullException.ThrowIfNull(head);
        ObjectDisposedException.ThrowIf(_ended, this);
        _pendingHead = head;
    }

    /// <summary>Starts the savepoint one write of a group commit runs in.</summary>
    internal void Savepoint()
    {
        Execute("SAVEPOINT job");
        _atSavepoint = (_pendingHead, _lastEntry, _lastEntryKnown);
    }

    internal void ReleaseSavepoint() => Execute("RELEASE SAVEPOINT job");

    /// <summary>Undoes everything since <see cref="Savepoint"/>, in the database and here.</summary>
    internal void RollbackToSavepoint()
    {
        Execute("ROLLBACK TO SAVEPOINT job");
        (_pendingHead, _lastEntry, _lastEntryKnown) = _atSavepoint;
        Execute("RELEASE SAVEPOINT job");
    }

    /// <summary>Writes the head and commits; returns once the commit is durable.</summary>
    /// <exception cref="KeyBrokerStoreException">The commit failed; nothing of the transaction is stored.</exception>
    public void Commit()
    {
        ObjectDisposedException.ThrowIf(_ended, this);
        try
        {
            if (_pendingHead is { } head)
            {
                Execute(SetHeadSql, ("@size", head.Size), ("@hash", head.HeadHash), ("@time", RelationalStore.ToMs(head.Time)), ("@sig", head.Signature));
            }

            _transaction.Commit();
        }
        catch (DbException e)
        {
            throw new KeyBrokerStoreException("The write could not be committed; none of it is stored.", e);
        }
        finally
        {
            End();
        }
    }

    public void Dispose()
    {
        if (!_ended)
        {
            End();
        }
    }

    private void End()
    {
        _ended = true;
        try
        {
            _transaction.Dispose();
            _connection.Dispose();
        }
        finally
        {
            if (_releasesWriterLock)
            {
                _store.WriterLock.Release();
            }
        }
    }

    private static (string, object?)[] KeyParameters(KeyVersionRecord r) =>
    [
        ("@name", r.Name), ("@version", r.Version), ("@owner", r.OwnerThumbprint), ("@wrapped", r.WrappedKey),
        ("@policy", r.PolicyJson), ("@enabled", r.Enabled ? 1 : 0), ("@created", RelationalStore.ToMs(r.CreatedAt)),
    ];

    /// <summary>The transaction, while it is open.</summary>
    private DbTransaction Open => _ended ? throw new ObjectDisposedException(nameof(RelationalWriteTransaction)) : _transaction;

    private DbCommand Command(string sql, params (string Name, object? Value)[] parameters) =>
        RelationalStore.Command(_connection, Open, sql, parameters);

    private int Execute(string sql, params (string Name, object? Value)[] parameters)
    {
        using DbCommand command = Command(sql, parameters);
        return command.ExecuteNonQuery();
    }
}
