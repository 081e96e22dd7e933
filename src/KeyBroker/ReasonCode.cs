// Why a release was denied. The member names are the stable reason strings written to the audit log
// and compared by operators and tests; never rename one, only add new members at the end.
namespace Enclave.KeyBroker;

public enum ReasonCode
{
    /// <summary>The token is malformed, unsigned, signed with a disallowed algorithm or an unknown key,
    /// lacks a required claim, lives too long, or the issuer's keys could not be obtained.</summary>
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

    /// <summary>The nonce was not issued by this broker, has expired, or was already used.</summary>
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
}
