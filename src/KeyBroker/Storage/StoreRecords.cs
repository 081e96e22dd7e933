namespace Enclave.KeyBroker.Storage;

/// <summary>One version of a registered data key as stored: the data key only wrapped by the master key.</summary>
public sealed record KeyVersionRecord(
    string Name,
    int Version,
    string OwnerThumbprint,
    byte[] WrappedKey,
    string PolicyJson,
    bool Enabled,
    DateTimeOffset CreatedAt);

/// <summary>One audit log entry as stored. <see cref="Body"/> is hashed as its exact UTF-8 bytes.</summary>
public sealed record AuditEntryRecord(
    long Sequence,
    DateTimeOffset Time,
    string Kind,
    string Body,
    byte[] PreviousHash,
    byte[] EntryHash);

/// <summary>The signed head of the audit chain: its size, the hash of its last entry, and a compact JWS
/// over both by the audit signing key.</summary>
public sealed record AuditHeadRecord(long Size, byte[] HeadHash, DateTimeOffset Time, string Signature);
