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

    /// <summary>There is no signed tree head although entries exist.</summary>
    HeadMissing,

    /// <summary>The head record's signature does not verify with the audit key, or does not cover the
    /// stored size, root and time.</summary>
    HeadSignatureInvalid,

    /// <summary>The log has fewer entries than the signed head covers: the tail was truncated.</summary>
    Truncated,

    /// <summary>The entries up to the head's size do not hash to its signed Merkle root: the last entry
    /// was rewritten.</summary>
    HeadMismatch,

    /// <summary>Entries exist beyond the signed head: they were appended without the audit key.</summary>
    UnsignedEntries,

    /// <summary>The signed tree head carried by an entry does not match the Merkle root of the entries
    /// before it: the entry before it was rewritten and every hash after it recomputed.</summary>
    TreeHeadMismatch,
}

/// <summary>The result of verifying the audit log. When invalid, <see cref="FirstBadSequence"/> is the
/// first entry that cannot be trusted (null when the head record itself is at fault);
/// <see cref="VerifiedEntries"/> entries before it were verified. Valid: <see cref="RootHash"/> is the signed Merkle root.</summary>
public sealed record AuditVerificationResult(
    bool IsValid,
    long VerifiedEntries,
    long? FirstBadSequence,
    AuditFault? Fault,
    string Detail,
    byte[]? RootHash = null)
{
    public static AuditVerificationResult Valid(long entries, byte[] root) =>
        new(true, entries, null, null, $"{entries} entries verified: Merkle root {Convert.ToHexStringLower(root)} matches the signed tree head", root);

    public static AuditVerificationResult Invalid(long verified, long? firstBad, AuditFault fault, string detail) =>
        new(false, verified, firstBad, fault, firstBad is null ? detail : $"first bad entry {firstBad}: {detail}");
}
