namespace Enclave.KeyBroker.Audit;

/// <summary>Whether a node enrolment may be recorded: it must be new (its <c>jti</c>) and newer than every
/// enrolment of its platform recorded before (its <c>seq</c>).</summary>
public enum EnrollmentRecording
{
    /// <summary>First sight of the id, and the highest sequence of the platform: recorded.</summary>
    Recorded = 1,

    /// <summary>An enrolment with this id was recorded before: a replay.</summary>
    Replayed = 2,

    /// <summary>An enrolment of this platform with a sequence not lower than this one was recorded before.</summary>
    Superseded = 3,
}

/// <summary>A correctly signed enrolment that the broker refuses to record because it is a replay or older than
/// one already recorded (<see cref="Code"/>: <c>EnrollmentReplayed</c> or <c>EnrollmentSuperseded</c>).</summary>
public sealed class EnrollmentRefusedException : Exception
{
    public EnrollmentRefusedException(EnrollmentRecording reason, string message)
        : base(message)
    {
        Reason = reason;
    }

    public EnrollmentRecording Reason { get; }

    /// <summary>The stable reason code, the same as the verifier's for the same refusal.</summary>
    public string Code => Reason == EnrollmentRecording.Replayed ? "EnrollmentReplayed" : "EnrollmentSuperseded";
}
