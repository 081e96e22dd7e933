namespace Enclave.AttestationVerifier.Nodes;

/// <summary>The outcome of one enrolment request.</summary>
public sealed class EnrollmentOutcome
{
    private EnrollmentOutcome(NodeEnrollment? enrollment, string? previousRegion, EnrollmentError? error, string message)
    {
        Enrollment = enrollment;
        PreviousRegion = previousRegion;
        Error = error;
        Message = message;
    }

    public bool Succeeded => Enrollment is not null;

    public NodeEnrollment? Enrollment { get; }

    /// <summary>The region the platform was enrolled in before, when this enrolment moved it.</summary>
    public string? PreviousRegion { get; }

    public EnrollmentError? Error { get; }

    public string Message { get; }

    internal static EnrollmentOutcome Success(NodeEnrollment enrollment, string? previousRegion) =>
        new(enrollment, previousRegion, null, previousRegion is null
            ? $"platform {enrollment.PlatformId} enrolled in region {enrollment.Region}"
            : $"platform {enrollment.PlatformId} moved from region {previousRegion} to {enrollment.Region}");

    internal static EnrollmentOutcome Failure(EnrollmentError error, string message) => new(null, null, error, message);
}
