// Why a release was denied. The member names are the stable reason strings written to the audit log
// and compared by operators and tests; never rename one, only add new members at the end.
namespace Enclave.KeyBroker;

public enum ReasonCode
{
    /// <summary>The token is not a well-formed compact JWT with the required claims (for example no
    /// <c>iss</c>, no <c>exp</c>, neither <c>iat</c> nor <c>nbf</c>, or a claim of the wrong type).</summary>
    TokenInvalid,

    /// <summary>The token's <c>exp</c> has passed (beyond the allowed clock skew).</summary>
    TokenExpired,

    /// <summary>The token's <c>iss</c> is not a configured verifier, or no authority of the key's policy
    /// names the token's issuer.</summary>
    WrongIssuer,

    /// <summary>The token's <c>aud</c> is not the configured audience.</summary>
    WrongAudience,

    /// <summary>The token carries neither <c>nonce</c> nor <c>x-ms-runtime.nonce</c>, or the two differ.</summary>
    NonceMissing,

    /// <summary>The nonce was not issued by this broker (its tag does not verify, or it is not a nonce at all).
    /// Expired and reused nonces have their own codes (<see cref="NonceExpired"/>, <see cref="NonceReplayed"/>);
    /// the name is kept for the audit logs that already hold it.</summary>
    NonceUnknownOrReused,

    /// <summary>A measurement condition of the policy failed (see <c>ReleasePolicy.MeasurementClaims</c>).</summary>
    MeasurementNotAllowed,

    /// <summary>A condition on a <c>*is-debuggable</c> claim failed.</summary>
    DebugNotAllowed,

    /// <summary>A condition on a TCB status claim failed.</summary>
    TcbNotAllowed,

    /// <summary>A condition on an SVN claim failed.</summary>
    SvnTooLow,

    /// <summary>A condition on the attestation type failed, or a simulated token reached a broker that is
    /// not in simulated mode.</summary>
    AttestationTypeNotAllowed,

    /// <summary>The token's <c>x-enclave-region</c> is not in the policy's region list, or a condition on
    /// that claim failed.</summary>
    RegionNotAllowed,

    /// <summary>Any other policy condition failed.</summary>
    PolicyNotSatisfied,

    /// <summary>No key of that name exists (or the name is not a valid key name).</summary>
    KeyNotFound,

    /// <summary>The latest version of the key is disabled by its owner.</summary>
    KeyDisabled,

    /// <summary>The token's top-level <c>x-ms-runtime.keys</c> has no usable <c>use: enc</c> key.</summary>
    NoEncryptionKey,

    /// <summary>The token is not valid yet (<c>nbf</c> or <c>iat</c> in the future beyond the skew).</summary>
    TokenNotYetValid,

    /// <summary>The stored key record failed authentication under the master key (the row was altered).</summary>
    KeyIntegrityFailure,

    /// <summary>The token header names or carries its own key (<c>jwk</c>, <c>jku</c>, <c>x5u</c>, <c>x5c</c>,
    /// <c>x5t</c>, <c>x5t#S256</c>); keys come only from the configured verifiers' published key sets.</summary>
    KeyInTokenHeader,

    /// <summary>The token's <c>alg</c> is not on the allow-list (ES256, ES384): <c>none</c>, HMAC, RSA or unknown.</summary>
    AlgorithmNotAllowed,

    /// <summary>The signature does not verify under the issuer's key named by <c>kid</c>.</summary>
    SignatureInvalid,

    /// <summary>The ECDSA signature's r or s is zero or not below the curve order (CVE-2022-21449).</summary>
    SignatureScalarInvalid,

    /// <summary>No key of the issuer's published key set has the token's <c>kid</c> (or the token has none).</summary>
    UnknownSigningKey,

    /// <summary>The trusted issuer's key set could not be obtained; fails closed.</summary>
    VerifierKeysUnavailable,

    /// <summary><c>exp</c> minus <c>iat</c>/<c>nbf</c> exceeds the configured maximum lifetime.</summary>
    TokenLifetimeTooLong,

    /// <summary>The token's <c>nonce</c> and <c>x-ms-runtime.nonce</c> differ.</summary>
    NonceMismatch,

    /// <summary>The token header has <c>crit</c> or another member this broker does not understand.</summary>
    UnsupportedTokenHeader,

    /// <summary>The nonce was issued by this broker and is still fresh, but a release already used it: the
    /// token is a replay.</summary>
    NonceReplayed,

    /// <summary>The nonce was issued by this broker but has expired.</summary>
    NonceExpired,

    /// <summary>The key's policy sets a privacy budget (<c>x-enclave-privacy</c>) and the token carries no well-formed
    /// <c>x-ms-runtime.privacy</c>: the round does not train with differential privacy, or does not say what it spends.</summary>
    PrivacyRequired,

    /// <summary>Granting would take the key's ε, at the policy's δ, above the policy's <c>maxEpsilon</c>; nothing is spent.</summary>
    PrivacyBudgetExhausted,
}
