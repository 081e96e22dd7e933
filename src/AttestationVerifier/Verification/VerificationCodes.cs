namespace Enclave.AttestationVerifier.Verification;

/// <summary>
/// Stable codes for why hardware evidence is not genuine at the instant asked. They appear in
/// `enclave attest verify --json` output and in tokens' error logs; never rename one.
/// </summary>
public static class VerificationCodes
{
    /// <summary>The evidence bytes do not parse (truncated, bad length field, unknown version...).</summary>
    public const string Malformed = "Malformed";

    /// <summary>The evidence is of a kind or version this verifier does not handle.</summary>
    public const string Unsupported = "Unsupported";

    /// <summary>The signature over the evidence (quote, report, COSE, JWS) does not verify.</summary>
    public const string EvidenceSignatureInvalid = "EvidenceSignatureInvalid";

    /// <summary>The algorithm named by the evidence is not allowed (JWS none, HMAC, unknown COSE alg...).</summary>
    public const string AlgorithmNotAllowed = "AlgorithmNotAllowed";

    /// <summary>A certificate chain does not build to the embedded genuine root (wrong issuer, bad signature).</summary>
    public const string ChainInvalid = "ChainInvalid";

    /// <summary>The chain ends in a root other than the vendor's genuine root.</summary>
    public const string UntrustedRoot = "UntrustedRoot";

    /// <summary>A certificate is not yet valid or has expired at the instant.</summary>
    public const string CertificateExpired = "CertificateExpired";

    /// <summary>A certificate in the chain is revoked by a CRL.</summary>
    public const string CertificateRevoked = "CertificateRevoked";

    /// <summary>A CRL needed to check revocation is missing, badly signed or outside its validity.</summary>
    public const string CrlInvalid = "CrlInvalid";

    /// <summary>Collateral (TCB info, QE identity, VCEK, cabundle, JWKS) needed to verify is not supplied.</summary>
    public const string CollateralMissing = "CollateralMissing";

    /// <summary>Collateral does not parse or its signature does not verify.</summary>
    public const string CollateralInvalid = "CollateralInvalid";

    /// <summary>Collateral is outside its validity window (issueDate/nextUpdate) at the instant.</summary>
    public const string CollateralExpired = "CollateralExpired";

    /// <summary>Collateral is for another platform kind or family (SGX collateral for a TDX quote, other FMSPC).</summary>
    public const string CollateralMismatch = "CollateralMismatch";

    /// <summary>The QE report signature, its binding to the attestation key, or the QE identity does not hold.</summary>
    public const string QuotingEnclaveInvalid = "QuotingEnclaveInvalid";

    /// <summary>No TCB level in the TCB info matches the platform (or TDX module identity).</summary>
    public const string TcbLevelNotFound = "TcbLevelNotFound";

    /// <summary>The TCB status at the matched level is Revoked.</summary>
    public const string TcbRevoked = "TcbRevoked";

    /// <summary>The reported TCB exceeds what the endorsement key certifies (SNP reported TCB vs VCEK).</summary>
    public const string TcbMismatch = "TcbMismatch";

    /// <summary>A token or document is outside its nbf/exp or not-before/after window at the instant.</summary>
    public const string Expired = "Expired";

    /// <summary>A token's issuer is missing or not the one expected.</summary>
    public const string IssuerInvalid = "IssuerInvalid";

    /// <summary>The key that signed is not one the trusted key set contains (or the token names its own key).</summary>
    public const string KeyNotTrusted = "KeyNotTrusted";
}
