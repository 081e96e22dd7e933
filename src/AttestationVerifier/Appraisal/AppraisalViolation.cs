namespace Enclave.AttestationVerifier.Appraisal;

/// <summary>One rule of the policy that the evidence breaks, with a stable code and a readable reason.</summary>
public sealed record AppraisalViolation(AppraisalViolationCode Code, string Message)
{
    public override string ToString() => $"{Code}: {Message}";
}
