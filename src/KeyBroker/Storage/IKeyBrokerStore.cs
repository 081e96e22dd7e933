namespace Enclave.KeyBroker.Storage;

/// <summary>Persistence of the key broker: nonces, owner-request ids, key versions and the audit log.
/// Writes happen in a <see cref="IKeyBrokerTransaction"/>; writers are serialised, so a read inside a
/// write transaction sees the latest committed state and nothing can change it before commit.</summary>
public interface IKeyBrokerStore : IDisposable
{
    /// <summary>Creates the schema if it does not exist (idempotent).</summary>
    void Initialize();

    /// <summary>Starts a serialised write transaction; dispose without <see cref="IKeyBrokerTransaction.Commit"/> to roll back.</summary>
    IKeyBrokerTransaction BeginWrite();

    /// <summary>As <see cref="BeginWrite"/>, waiting for the writer without holding a thread.</summary>
    Task<IKeyBrokerTransaction> BeginWriteAsync(CancellationToken cancellationToken = default) => Task.FromResult(BeginWrite());

    /// <summary>The highest version of the key, or null.</summary>
    KeyVersionRecord? GetLatestKey(string name);

    /// <summary>Audit entries with <c>Sequence &gt;= fromSequence</c> in ascending sequence order.</summary>
    IEnumerable<AuditEntryRecord> ReadAuditEntries(long fromSequence = 1);

    AuditEntryRecord? GetAuditEntry(long sequence);

    AuditHeadRecord? GetAuditHead();
}

/// <summary>A serialised write transaction. Every method runs inside it; nothing is visible to others
/// until <see cref="Commit"/>.</summary>
public interface IKeyBrokerTransaction : IDisposable
{
    /// <summary>Stores a nonce (by its hash) valid until <paramref name="expiresAt"/>.</summary>
    void InsertNonce(byte[] nonceHash, DateTimeOffset expiresAt);

    /// <summary>Deletes the nonce if it exists and has not expired at <paramref name="now"/>; true when
    /// it was deleted by this call (so it can succeed once).</summary>
    bool TryConsumeNonce(byte[] nonceHash, DateTimeOffset now);

    /// <summary>Deletes nonces and owner-request ids that expired before <paramref name="now"/>.</summary>
    void PurgeExpired(DateTimeOffset now);

    /// <summary>Records an owner request id; false when the id is already recorded (a replay).</summary>
    bool TryRecordOwnerRequest(string requestId, DateTimeOffset expiresAt);

    KeyVersionRecord? GetLatestKey(string name);

    /// <summary>Inserts a new key version; the (name, version) pair must be new.</summary>
    void InsertKeyVersion(KeyVersionRecord record);

    /// <summary>Replaces the wrapped key, policy and enabled flag of an existing version.</summary>
    void UpdateKeyVersion(KeyVersionRecord record);

    AuditEntryRecord? GetLastAuditEntry();

    /// <summary>The entry hashes (Merkle leaves) of entries 1..<paramref name="upToSequence"/> in order, as this
    /// transaction sees them (including its own uncommitted appends), read on its own connection.</summary>
    IReadOnlyList<byte[]> ReadAuditLeafHashes(long upToSequence);

    AuditHeadRecord? GetAuditHead();

    void InsertAuditEntry(AuditEntryRecord entry);

    /// <summary>Writes the single chain-head record, replacing the previous one.</summary>
    void SetAuditHead(AuditHeadRecord head);

    void Commit();

    /// <summary>As <see cref="Commit"/>, waiting for durability without holding a thread.</summary>
    Task CommitAsync()
    {
        Commit();
        return Task.CompletedTask;
    }
}
