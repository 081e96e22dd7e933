using Enclave.KeyBroker.Storage;

namespace Enclave.Fuzz;

/// <summary>
/// A broker store that holds only nonces and accepts every well-formed one as freshly issued, so that fuzzed
/// tokens reach the checks after nonce consumption. Nothing else is stored: other calls fail.
/// </summary>
internal sealed class AnyNonceStore : IKeyBrokerStore, IKeyBrokerTransaction
{
    public void Initialize()
    {
    }

    public IKeyBrokerTransaction BeginWrite() => this;

    public bool TryConsumeNonce(byte[] nonceHash, DateTimeOffset now) => true;

    public void InsertNonce(byte[] nonceHash, DateTimeOffset expiresAt)
    {
    }

    public void PurgeExpired(DateTimeOffset now)
    {
    }

    public void Commit()
    {
    }

    public void Dispose()
    {
    }

    public KeyVersionRecord? GetLatestKey(string name) => throw Unsupported();

    public IEnumerable<AuditEntryRecord> ReadAuditEntries(long fromSequence = 1) => throw Unsupported();

    public AuditEntryRecord? GetAuditEntry(long sequence) => throw Unsupported();

    public AuditHeadRecord? GetAuditHead() => throw Unsupported();

    public bool TryRecordOwnerRequest(string requestId, DateTimeOffset expiresAt) => throw Unsupported();

    public void InsertKeyVersion(KeyVersionRecord record) => throw Unsupported();

    public void UpdateKeyVersion(KeyVersionRecord record) => throw Unsupported();

    public AuditEntryRecord? GetLastAuditEntry() => throw Unsupported();

    public IReadOnlyList<byte[]> ReadAuditLeafHashes(long upToSequence) => throw Unsupported();

    public void InsertAuditEntry(AuditEntryRecord entry) => throw Unsupported();

    public void SetAuditHead(AuditHeadRecord head) => throw Unsupported();

    private static NotSupportedException Unsupported() => new("the fuzz store holds only nonces");
}
