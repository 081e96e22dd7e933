// The outcome of verifying hardware evidence (SGX, TDX, SEV-SNP, Nitro, Azure Attestation tokens) at an explicit
// instant, in the shape `enclave attest verify --json` prints: whether the evidence is genuine (signatures,
// chains, collateral and revocation at that instant), the TCB status where the kind has one, every parsed
// measurement and identity value (lower-case hex or plain strings), and every problem with a stable code.
namespace Enclave.AttestationVerifier.Verification;

public sealed record VerificationProblem(string Code, string Message)
{
    public override string ToString() => $"{Code}: {Message}";
}

/// <param name="Kind">sgx, tdx, sev-snp, nitro or maa.</param>
/// <param name="Verified">Genuine: no error at all.</param>
/// <param name="TcbStatus">The TCB status (Intel names; SNP and Nitro report UpToDate when the chain and TCB
/// checks pass), or null when it could not be determined.</param>
/// <param name="Claims">Every parsed value, keyed by dotted snake_case path (header.version, body.mr_enclave,
/// report.measurement, pcrs.0, ...); byte strings as lower-case hex, integers in decimal.</param>
/// <param name="Errors">Every problem found, each with a <see cref="VerificationCodes"/> code.</param>
/// <param name="Identity">Normalised values for appraisal; null when the evidence did not parse.</param>
public sealed record HardwareVerificationReport(
    string Kind,
    bool Verified,
    string? TcbStatus,
    IReadOnlyDictionary<string, string> Claims,
    IReadOnlyList<VerificationProblem> Errors,
    HardwareIdentity? Identity = null)
{
    public static HardwareVerificationReport Unusable(string kind, string code, string message) =>
        new(kind, false, null, new Dictionary<string, string>(), [new VerificationProblem(code, message)]);
}
