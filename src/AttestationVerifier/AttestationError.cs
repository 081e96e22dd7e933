namespace Enclave.AttestationVerifier;

/// <summary>Stable codes for refused attestation requests.</summary>
public enum AttestationError
{
    /// <summary>No verifier is registered for the evidence format.</summary>
    UnsupportedFormat = 1,

    /// <summary>The evidence or runtime data exceeds the size any valid request has.</summary>
    RequestTooLarge = 2,

    /// <summary>The evidence bytes are not well-formed; see <see cref="AttestationOutcome.FormatError"/>.</summary>
    MalformedEvidence = 3,

    /// <summary>SIMULATED evidence arrived and the verifier does not accept it.</summary>
    SimulatedNotAllowed = 4,

    /// <summary>Signatures or certificates do not verify; see <see cref="AttestationOutcome.VerificationError"/>.</summary>
    EvidenceNotVerified = 5,

    /// <summary>Genuine evidence that the policy rejects; see <see cref="AttestationOutcome.Violations"/>.</summary>
    PolicyViolation = 6,
}
