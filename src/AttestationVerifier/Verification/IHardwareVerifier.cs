using Enclave.AttestationVerifier.Endorsements;

namespace Enclave.AttestationVerifier.Verification;

/// <summary>
/// Verifies one kind of hardware evidence (SGX quote, TDX quote, SEV-SNP report, Nitro document, Azure
/// Attestation token) at an explicit instant. Genuineness only: signatures, chains to the embedded root,
/// collateral signatures and validity, revocation and TCB status. Policy appraisal happens afterwards, on the
/// report's <see cref="HardwareVerificationReport.Identity"/>.
/// </summary>
public interface IHardwareVerifier
{
    /// <summary>The kind's name as `enclave attest verify --kind` spells it: sgx, tdx, sev-snp, nitro or maa.</summary>
    string Kind { get; }

    /// <summary>Whether the bytes look like this kind's evidence (cheap; used to detect the kind).</summary>
    bool Recognizes(ReadOnlySpan<byte> evidence);

    /// <summary>
    /// Never throws for bad evidence or endorsements: every problem becomes an error with a stable code
    /// (<see cref="VerificationCodes"/>), and <see cref="HardwareVerificationReport.Verified"/> is true only when
    /// there is none.
    /// </summary>
    HardwareVerificationReport Verify(ReadOnlyMemory<byte> evidence, EndorsementSet endorsements, DateTimeOffset at);
}
