using System.Data.Common;
using Enclave.KeyBroker.Tokens;

namespace Enclave.KeyBroker.Storage;

/// <summary>A logical write transaction: a savepoint inside the writer's physical transaction (see
/// <see cref="GroupCommitWriter"/>).</summary>
internal sealed class RelationalWriteTransaction : IKeyBrokerTransaction
{
    private readonly GroupCommitWriter _writer;
    private bool _ended;

    public RelationalWriteTransaction(GroupCommitWriter writer)
    {
        _writer = writer;
    }

    public NonceConsumption ConsumeNonce(byte[] nonceHash, DateTimeOffset expiresAt, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(nonceHash);
        long expires = RelationalStore.ToMs(expiresAt);
        if (expires <= RelationalStore.ToMs(now) || expires <= _writer.PurgedNoncesUpToMs)
        {
            return NonceConsumption.Expired;
        }

        ObjectDisposedException.ThrowIf(_ended, this);
        return _writer.ConsumeNonce(nonceHash, expires);
    }

    public void PurgeExpired(DateTimeOffset now)
    {
        long ms = RelationalStore.ToMs(now);
        if (!_writer.PurgeDue(ms))
        {
            return;
        }

        long nonceCutoff = RelationalStore.ToMs(now - NonceStore.ConsumedRetention);
        _writer.PurgedNoncesUpToMs = nonceCutoff;
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
        ObjectDisposedException.ThrowIf(_ended, this);
        ArgumentNullException.ThrowIfNull(enrollmentId);
        ArgumentNullException.ThrowIfNull(platformId);
        (bool idSeen, bool superseded) = _writer.Read(
            """
            SELECT (SELECT COUNT(*) FROM node_enrollments WHERE enrollment_id = @id),
                   (SELECT COUNT(*) FROM node_enrollments WHERE platform_id = @platform AND sequence >= @sequence)
            """,
            [("@id", enrollmentId), ("@platform", platformId), ("@sequence", sequence)],
            reader => reader.Read() ? (Convert.ToInt64(reader.GetValue(0), System.Globalization.CultureInfo.InvariantCulture) > 0, Convert.ToInt64(reader.GetValue(1), System.Globalization.CultureInfo.InvariantCulture) > 0) : (true, true));
        if (idSeen)
        {
            return Audit.EnrollmentRecording.Replayed;
        }

        if (superseded)
        {
            return Audit.EnrollmentRecording.Superseded;
        }

        _writer.InsertOne(
            "INSERT INTO node_enrollments (enrollment_id, platform_id, sequence) VALUES (@enrollment_id, @enrollment_platform, @enrollment_sequence)",
            ("@enrollment_id", enrollmentId), ("@enrollment_platform", platformId), ("@enrollment_sequence", sequence));
        return Audit.EnrollmentRecording.Recorded;
    }

    /// <summary>The key's latest version as of now; read once per physical transaction, since nothing but this
    /// writer can change it while the transaction holds the store's writer lock.</summary>
    public KeyVersionRecord? GetLatestKey(string name)
    {
        ObjectDisposedException.ThrowIf(_ended, this);
        ArgumentNullException.ThrowIfNull(name);
        return _writer.LatestKey(name);
    }

    public void InsertKeyVersion(KeyVersionRecord record)
    {
        ArgumentNullException.ThrowIfNull(record);
        _writer.ForgetKey(record.Name);
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
        _writer.ForgetKey(record.Name);
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

    public AuditEntryRecord? GetLastAuditEntry()
    {
        ObjectDisposedException.ThrowIf(_ended, this);
        return _writer.LastAuditEntry();
    }

    public IReadOnlyList<byte[]> ReadAuditLeafHashes(long upToSequence)
    {
        ObjectDisposedException.ThrowIf(_ended, this);
        return _writer.Read(LeafHashesSql, [("@to", upToSequence)], reader =>
        {
            List<byte[]> leaves = [];
            while (reader.Read())
            {
                leaves.Add((byte[])reader.GetValue(0));
            }

            return leaves;
        });
    }

    public AuditHeadRecord? GetAuditHead()
    {
        ObjectDisposedException.ThrowIf(_ended, this);
        if (_writer.PendingAuditHead is { } pending)
        {
            return pending;
        }

        return _writer.StoredAuditHead();
    }

    /// <summary>Inserts the entry; on a server database the statement travels with the next one (see
    /// <see cref="GroupCommitWriter.InsertOne"/>). Its parameter names are its own, so it can share a command.</summary>
    public void InsertAuditEntry(AuditEntryRecord entry)
    {
        ObjectDisposedException.ThrowIf(_ended, this);
        _writer.ForgetLastAuditEntry();
        _writer.InsertOne(
            """
            INSERT INTO audit_entries (seq, time_ms, kind, body, prev_hash, entry_hash)
            VALUES (@entry_seq, @entry_time, @entry_kind, @entry_body, @entry_prev, @entry_hash)
            """,
            ("@entry_seq", entry.Sequence), ("@entry_time", RelationalStore.ToMs(entry.Time)), ("@entry_kind", entry.Kind),
            ("@entry_body", entry.Body), ("@entry_prev", entry.PreviousHash), ("@entry_hash", entry.EntryHash));
    }

    public AuditTailRecord? CachedAuditTail
    {
        get
        {
            ObjectDisposedException.ThrowIf(_ended, this);
            return _writer.AuditTail;
        }

        set
        {
            ObjectDisposedException.ThrowIf(_ended, this);
            _writer.AuditTail = value;
        }
    }

    /// <summary>Sets the head record; it is written to the store just before the physical commit.</summary>
    public void SetAuditHead(AuditHeadRecord head)
    {
        ArgumentNullException.ThrowIfNull(head);
        ObjectDisposedException.ThrowIf(_ended, this);
        _writer.PendingAuditHead = head;
    }

    /// <summary>Returns once the write is durable; throws <see cref="KeyBrokerStoreException"/> when it
    /// could not be made durable (then none of it is stored).</summary>
    public void Commit()
    {
        ObjectDisposedException.ThrowIf(_ended, this);
        _ended = true;
        _writer.Complete(commit: true);
    }

    /// <summary>As <see cref="Commit"/>, waiting for durability without holding a thread.</summary>
    public Task CommitAsync()
    {
        ObjectDisposedException.ThrowIf(_ended, this);
        _ended = true;
        return _writer.CompleteAsync(commit: true);
    }

    public void Dispose()
    {
        if (!_ended)
        {
            _ended = true;
            _writer.Complete(commit: false);
        }
    }

    private const string LeafHashesSql = "SELECT entry_hash FROM audit_entries WHERE seq <= @to ORDER BY seq";

    private static (string, object?)[] KeyParameters(KeyVersionRecord record) =>
    [
        ("@name", record.Name),
        ("@version", record.Version),
        ("@owner", record.OwnerThumbprint),
        ("@wrapped", record.WrappedKey),
        ("@policy", record.PolicyJson),
        ("@enabled", record.Enabled ? 1 : 0),
        ("@created", RelationalStore.ToMs(record.CreatedAt)),
    ];

    private int Execute(string sql, params (string Name, object? Value)[] parameters)
    {
        ObjectDisposedException.ThrowIf(_ended, this);
        return _writer.NonQuery(sql, parameters);
    }
}
