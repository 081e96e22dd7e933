using Enclave.AttestationVerifier.Evidence;

namespace Enclave.AttestationVerifier.Verification;

/// <summary>
/// Verifies one format of evidence: parses the bytes, then checks signatures and certificate chains against the
/// format's trusted roots and collateral at an instant from an injected clock.
/// </summary>
public interface IEvidenceVerifier
{
    EvidenceFormat Format { get; }

    /// <exception cref="EvidenceFormatException">The bytes are not well-formed evidence of <see cref="Format"/>.</exception>
    EvidenceVerificationResult Verify(ReadOnlySpan<byte> evidence);
}
