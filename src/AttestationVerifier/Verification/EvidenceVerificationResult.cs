namespace Enclave.AttestationVerifier.Verification;

/// <summary>Either verified evidence or the reason the evidence was not accepted as genuine.</summary>
public sealed class EvidenceVerificationResult
{
    private EvidenceVerificationResult(VerifiedEvidence? evidence, VerificationError? error, string message)
    {
        Evidence = evidence;
        Error = error;
        Message = message;
    }

    public bool Succeeded => Evidence is not null;

    public VerifiedEvidence? Evidence { get; }

    public VerificationError? Error { get; }

    public string Message { get; }

    internal static EvidenceVerificationResult Success(VerifiedEvidence evidence) => new(evidence, null, "verified");

    internal static EvidenceVerificationResult Failure(VerificationError error, string message) => new(null, error, message);
}
