namespace Enclave.KeyBroker.Storage;

/// <summary>Persistence of the key broker: consumed nonces, owner-request ids, key versions and the audit log.
/// Writes happen in a <see cref="IKeyBrokerTransaction"/>; writers are serialised, so a read inside a
/// write transaction sees the latest committed state and nothing can change it before commit.</summary>
public interface IKeyBrokerStore : IDisposable
{
    /// <summary>Creates the schema if it does not exist (idempotent).</summary>
    void Initialize();

    /// <summary>Starts a serialised write transaction; dispose without <see cref="IKeyBrokerTransaction.Commit"/> to roll back.
    /// Blocks while it waits for the writer and (in Commit) for durability, so it is for tools and tests: threads blocked
    /// here starve a server's pool (it uses <see cref="BeginWriteAsync"/> and <see cref="IKeyBrokerTransaction.CommitAsync"/>).</summary>
    IKeyBrokerTransaction BeginWrite();

    /// <summary>As <see cref="BeginWrite"/>, waiting for the writer without holding a thread.</summary>
    Task<IKeyBrokerTransaction> BeginWriteAsync(CancellationToken cancellationToken = default) => Task.FromResult(BeginWrite());

    /// <summary>Runs <paramref name="work"/> in a serialised write transaction and completes, with its result, once the
    /// write is durable; if <paramref name="work"/> throws, nothing of it is stored and the exception is the task's. The
    /// relational stores group-commit (<see cref="GroupCommit"/>), so <paramref name="work"/> must be short and
    /// synchronous (statements and their bookkeeping). Cancellation is honoured until the work starts.</summary>
    /// <exception cref="KeyBrokerStoreException">The write could not be made durable (then none of it is stored).</exception>
    async Task<T> WriteAsync<T>(Func<IKeyBrokerTransaction, T> work, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(work);
        using IKeyBrokerTransaction transaction = await BeginWriteAsync(cancellationToken).ConfigureAwait(false);
        T result = work(transaction);
        await transaction.CommitAsync().ConfigureAwait(false);
        return result;
    }

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
    /// <summary>Records the use of a nonce (by its hash) that expires at <paramref name="expiresAt"/>:
    /// <see cref="Tokens.NonceConsumption.Consumed"/> the first time, <see cref="Tokens.NonceConsumption.Replayed"/>
    /// when a use is already recorded, <see cref="Tokens.NonceConsumption.Expired"/> when the expiry is not after
    /// <paramref name="now"/> or after any instant this store already purged up to (so a purged record can never
    /// let a nonce be used twice).</summary>
    Tokens.NonceConsumption ConsumeNonce(byte[] nonceHash, DateTimeOffset expiresAt, DateTimeOffset now);

    /// <summary>Deletes owner-request ids that expired before <paramref name="now"/> and consumed nonces
    /// that expired more than <see cref="Tokens.NonceStore.ConsumedRetention"/> before it.</summary>
    void PurgeExpired(DateTimeOffset now);

    /// <summary>Records an owner request id; false when the id is already recorded (a replay).</summary>
    bool TryRecordOwnerRequest(string requestId, DateTimeOffset expiresAt);

    KeyVersionRecord? GetLatestKey(string name);

    /// <summary>Inserts a new key version; the (name, version) pair must be new.</summary>
    void InsertKeyVersion(KeyVersionRecord record);

    /// <summary>Replaces the wrapped key, policy and enabled flag of an existing version.</summary>
    void UpdateKeyVersion(KeyVersionRecord record);

    /// <summary>Records enrolment <paramref name="enrollmentId"/> (its <c>jti</c>) of <paramref name="platformId"/> at
    /// <paramref name="sequence"/> unless that id was recorded (<see cref="Audit.EnrollmentRecording.Replayed"/>) or one of the
    /// platform at a sequence not lower (<see cref="Audit.EnrollmentRecording.Superseded"/>). Never purged, so a captured
    /// enrolment is refused however late it is resent; a store that cannot keep these refuses every one (the default).</summary>
    Audit.EnrollmentRecording TryRecordEnrollment(string enrollmentId, string platformId, long sequence) =>
        throw new NotSupportedException("This store cannot record node enrolments.");

    /// <summary>The RDP spent by key <paramref name="name"/>'s releases (all versions) as last set, or null.</summary>
    byte[]? GetPrivacyBudget(string name);

    void SetPrivacyBudget(string name, byte[] rdp);

    /// <summary>The last audit entry, including this transaction's own appends.</summary>
    AuditEntryRecord? GetLastAuditEntry();

    /// <summary>The entry hashes (Merkle leaves) of entries 1..<paramref name="upToSequence"/> in order, as this
    /// transaction sees them (including its own uncommitted appends), read on its own connection.</summary>
    IReadOnlyList<byte[]> ReadAuditLeafHashes(long upToSequence);

    /// <summary>The head record, including one this transaction set.</summary>
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
