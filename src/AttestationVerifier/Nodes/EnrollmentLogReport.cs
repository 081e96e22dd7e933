namespace Enclave.AttestationVerifier.Nodes;

/// <summary>What can be wrong with the stored enrolment log.</summary>
public enum EnrollmentLogProblemKind
{
    /// <summary>Sequence numbers are not 1, 2, 3, ... without gaps.</summary>
    SequenceGap = 1,

    /// <summary>An entry's previous hash is not the hash of the entry before it.</summary>
    ChainBroken = 2,

    /// <summary>An entry's stored hash is not the hash of its fields: the entry was edited.</summary>
    HashMismatch = 3,

    /// <summary>An entry's platform id or region differs from the signed request it keeps.</summary>
    PayloadMismatch = 4,

    /// <summary>An entry's signed request does not verify with a configured security-team key.</summary>
    SignatureInvalid = 5,

    /// <summary>The current-state table disagrees with the latest log entry for a platform.</summary>
    NodeMismatch = 6,
}

public sealed record EnrollmentLogProblem(EnrollmentLogProblemKind Kind, long? Sequence, string Message);

/// <summary>The result of checking the enrolment log end to end.</summary>
public sealed class EnrollmentLogReport
{
    internal EnrollmentLogReport(long entryCount, string headHash, IReadOnlyList<EnrollmentLogProblem> problems)
    {
        EntryCount = entryCount;
        HeadHash = headHash;
        Problems = problems;
    }

    public bool IsIntact => Problems.Count == 0;

    public long EntryCount { get; }

    /// <summary>Hash of the last entry (lower-case hex); publish it to detect a rewritten log later.</summary>
    public string HeadHash { get; }

    public IReadOnlyList<EnrollmentLogProblem> Problems { get; }
}
