namespace Enclave.AttestationVerifier.Nodes;

/// <summary>A platform's current enrolment: its region, when and by which security-team key.</summary>
/// <param name="EnrolledBy">RFC 7638 thumbprint of the security-team key that signed the enrolment.</param>
/// <param name="SignedEnrollment">The compact JWS the security team sent, kept as evidence.</param>
/// <param name="Sequence">The entry of the enrolment log that recorded this enrolment.</param>
public sealed record NodeEnrollment(
    string PlatformId,
    string Region,
    DateTimeOffset EnrolledAt,
    string EnrolledBy,
    string SignedEnrollment,
    long Sequence);
