namespace Enclave.AttestationVerifier.Verification;

/// <summary>Stable codes for evidence that is well-formed but not genuine, or not acceptable to this verifier.</summary>
public enum VerificationError
{
    /// <summary>Simulated evidence arrived and the verifier was not started to accept it.</summary>
    SimulatedNotAllowed = 1,

    /// <summary>The platform certificate is not a single well-formed X.509 DER certificate.</summary>
    CertificateMalformed = 2,

    /// <summary>The platform certificate's key is not of the required type (ECDSA P-256).</summary>
    CertificateKeyNotSupported = 3,

    /// <summary>The platform certificate is not yet valid at the verification instant.</summary>
    CertificateNotYetValid = 4,

    /// <summary>The platform certificate has expired at the verification instant.</summary>
    CertificateExpired = 5,

    /// <summary>The platform certificate lacks the digitalSignature key usage.</summary>
    CertificateKeyUsageMissing = 6,

    /// <summary>The platform certificate does not chain to the configured root.</summary>
    CertificateNotTrusted = 7,

    /// <summary>The evidence signature does not verify with the platform key.</summary>
    SignatureInvalid = 8,

    /// <summary>Hardware evidence is not genuine at the instant: its verifier reported the problems in the message.</summary>
    HardwareNotGenuine = 9,
}
