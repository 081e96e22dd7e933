namespace Enclave.AttestationVerifier.Nodes;

/// <summary>Stable codes for refused enrolments.</summary>
public enum EnrollmentError
{
    /// <summary>Not a compact JWS, or its payload is not the enrolment JSON.</summary>
    Malformed = 1,

    /// <summary>The signature does not verify with any configured security-team key.</summary>
    SignatureInvalid = 2,

    /// <summary><c>iat</c> is more than five minutes away from the verifier's clock.</summary>
    Stale = 3,

    /// <summary>The region does not match <c>^[a-z0-9-]{1,64}$</c>.</summary>
    InvalidRegion = 4,

    /// <summary>The platform id is not 64 lower-case hex digits.</summary>
    InvalidPlatformId = 5,

    /// <summary>The platform is enrolled in another region and the request does not say <c>"replace": true</c>.</summary>
    RegionChangeNotConfirmed = 6,

    /// <summary>An enrolment with this <c>jti</c> was already applied: the request is a replay.</summary>
    Replayed = 7,

    /// <summary>The platform already has an enrolment whose <c>seq</c> is not lower than this one's: the request
    /// is older than the platform's current enrolment (a replay of a captured one, or signed out of order).</summary>
    Superseded = 8,
}
