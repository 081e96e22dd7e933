// The outcome of verifying hardware evidence (SGX, TDX, SEV-SNP, Nitro, Azure Attestation tokens) at an explicit
// instant, in the shape `enclave attest verify --json` prints: whether the evidence is genuine (signatures,
// chains, collateral and revocation at that instant), the TCB status where the kind has one, every parsed
// measurement and identity value (lower-case hex or plain strings), and every problem with a stable code.
namespace Enclave.AttestationVerifier.Verification;

public sealed record VerificationProblem(string Code, string Message)
{
    public override string ToString() => $"{Code}: {Message}";
}

public sealed record HardwareVerificationReport(
    string Kind,
    bool Verified,
    string? TcbStatus,
    IReadOnlyDictionary<string, string> Claims,
    IReadOnlyList<VerificationProblem> Errors)
{
    public static HardwareVerificationReport Unusable(string kind, string code, string message) =>
        new(kind, false, null, new Dictionary<string, string>(), [new VerificationProblem(code, message)]);
}
