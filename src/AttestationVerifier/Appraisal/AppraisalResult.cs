using Enclave.AttestationVerifier.Verification;

namespace Enclave.AttestationVerifier.Appraisal;

/// <summary>The outcome of appraising verified evidence: every violation found, or none.</summary>
public sealed class AppraisalResult
{
    internal AppraisalResult(VerifiedEvidence evidence, IReadOnlyList<AppraisalViolation> violations, string? region, RuntimeData? runtimeData)
    {
        Evidence = evidence;
        Violations = violations;
        Region = region;
        RuntimeData = runtimeData;
    }

    public bool IsAllowed => Violations.Count == 0;

    public VerifiedEvidence Evidence { get; }

    /// <summary>Every rule the evidence breaks, in a fixed order; empty when allowed.</summary>
    public IReadOnlyList<AppraisalViolation> Violations { get; }

    /// <summary>The region the platform is enrolled in; null when it is not enrolled.</summary>
    public string? Region { get; }

    /// <summary>The parsed runtime data; null when it is invalid.</summary>
    public RuntimeData? RuntimeData { get; }

    public bool Has(AppraisalViolationCode code) => Violations.Any(v => v.Code == code);
}
