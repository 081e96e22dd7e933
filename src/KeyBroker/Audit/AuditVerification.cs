namespace Enclave.KeyBroker.Audit;

/// <summary>What <see cref="AuditLog.Verify(Enclave.Crypto.Jwk?)"/> found wrong first.</summary>
public enum AuditFault
{
    /// <summary>A sequence number is missing: the entry was deleted.</summary>
    EntryMissing,

    /// <summary>The entry's previous-hash link does not equal the hash of the entry before it: entries were
    /// reordered, inserted, or deleted and renumbered.</summary>
    ChainBroken,

    /// <summary>The entry's stored hash does not match its content: the entry was edited.</summary>
    EntryEdited,

    /// <summary>There is no chain head although entries exist.</summary>
    HeadMissing,

    /// <summary>The chain head's signature does not verify with the audit key, or does not cover the
    /// stored size and hash.</summary>
    HeadSignatureInvalid,

    /// <summary>The log has fewer entries than the signed head covers: the tail was truncated.</summary>
    Truncated,

    /// <summary>The entry at the signed head's size does not hash to the signed head hash: the chain was
    /// rewritten.</summary>
    HeadMismatch,

    /// <summary>Entries exist beyond the signed head: they were appended without the audit key.</summary>
    UnsignedEntries,
}

/// <summary>The result of verifying the audit log. When invalid, <see cref="FirstBadSequence"/> is the
/// first entry that cannot be trusted (null when the head record itself is at fault).</summary>
public sealed record AuditVerificationResult(
    bool IsValid,
    long VerifiedEntries,
    long? FirstBadSequence,
    AuditFault? Fault,
    string Detail)
{
    public static AuditVerificationResult Valid(long entries) =>
        new(true, entries, null, null, $"{entries} entries verified against the signed head");

    public static AuditVerificationResult Invalid(long verified, long? firstBad, AuditFault fault, string detail) =>
        new(false, verified, firstBad, fault, detail);
}
