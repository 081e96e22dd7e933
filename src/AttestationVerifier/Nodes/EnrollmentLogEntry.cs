namespace Enclave.AttestationVerifier.Nodes;

/// <summary>One entry of the append-only enrolment log.</summary>
/// <param name="PreviousRegion">The region the platform left, when the entry moved it; otherwise null.</param>
/// <param name="PreviousHash">Hash of the entry before (64 zeros for the first).</param>
/// <param name="EntryHash">SHA-256 over the length-prefixed fields of this entry and <paramref name="PreviousHash"/>.</param>
public sealed record EnrollmentLogEntry(
    long Sequence,
    string PlatformId,
    string Region,
    string? PreviousRegion,
    DateTimeOffset EnrolledAt,
    string EnrolledBy,
    string SignedEnrollment,
    string PreviousHash,
    string EntryHash);
