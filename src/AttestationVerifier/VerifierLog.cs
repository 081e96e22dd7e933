using Enclave.AttestationVerifier.Nodes;
using Enclave.AttestationVerifier.Verification;
using Microsoft.Extensions.Logging;

namespace Enclave.AttestationVerifier;

/// <summary>
/// Every log line of the verifier, with fixed event ids. Lines about simulated evidence have their own events,
/// and each says SIMULATED.
/// </summary>
internal static partial class VerifierLog
{
    [LoggerMessage(EventId = 1, Level = LogLevel.Warning, Message = "SIMULATED evidence is accepted, chained to root {RootSubject} (SHA-256 {RootThumbprint}). Simulated enclaves are NOT secure against their host; use this only in development.")]
    public static partial void SimulatedModeEnabled(ILogger logger, string rootSubject, string rootThumbprint);

    [LoggerMessage(EventId = 2, Level = LogLevel.Information, Message = "Attestation verifier ready: issuer {Issuer}, audience {Audience}, signing key {KeyId}, SIMULATED evidence disabled")]
    public static partial void Ready(ILogger logger, string issuer, string audience, string keyId);

    [LoggerMessage(EventId = 3, Level = LogLevel.Information, Message = "Attestation verifier ready: issuer {Issuer}, audience {Audience}, signing key {KeyId}, SIMULATED evidence ENABLED")]
    public static partial void ReadyWithSimulated(ILogger logger, string issuer, string audience, string keyId);

    [LoggerMessage(EventId = 10, Level = LogLevel.Warning, Message = "Refused evidence of unsupported format '{Format}'")]
    public static partial void UnsupportedFormat(ILogger logger, string format);

    [LoggerMessage(EventId = 11, Level = LogLevel.Warning, Message = "Refused {Format} evidence: {Reason}")]
    public static partial void RequestTooLarge(ILogger logger, string format, string reason);

    [LoggerMessage(EventId = 12, Level = LogLevel.Warning, Message = "Refused malformed {Format} evidence ({Code}): {Reason}")]
    public static partial void EvidenceMalformed(ILogger logger, string format, Evidence.EvidenceFormatError code, string reason);

    [LoggerMessage(EventId = 13, Level = LogLevel.Warning, Message = "Refused {Format} evidence that does not verify ({Code}): {Reason}")]
    public static partial void EvidenceNotVerified(ILogger logger, string format, VerificationError code, string reason);

    [LoggerMessage(EventId = 14, Level = LogLevel.Warning, Message = "Refused {Format} evidence from platform {PlatformId} by policy: {Violations}")]
    public static partial void PolicyViolation(ILogger logger, string format, string platformId, string violations);

    [LoggerMessage(EventId = 15, Level = LogLevel.Information, Message = "Issued {Format} attestation token {TokenId} for platform {PlatformId} in region {Region}, measurement {Measurement}")]
    public static partial void TokenIssued(ILogger logger, string format, string tokenId, string platformId, string region, string measurement);

    [LoggerMessage(EventId = 20, Level = LogLevel.Warning, Message = "Refused SIMULATED evidence: the verifier does not accept simulated evidence")]
    public static partial void SimulatedNotAllowed(ILogger logger);

    [LoggerMessage(EventId = 21, Level = LogLevel.Warning, Message = "Refused SIMULATED evidence: {Reason}")]
    public static partial void SimulatedRequestTooLarge(ILogger logger, string reason);

    [LoggerMessage(EventId = 22, Level = LogLevel.Warning, Message = "Refused malformed SIMULATED evidence ({Code}): {Reason}")]
    public static partial void SimulatedEvidenceMalformed(ILogger logger, Evidence.EvidenceFormatError code, string reason);

    [LoggerMessage(EventId = 23, Level = LogLevel.Warning, Message = "Refused SIMULATED evidence that does not verify ({Code}): {Reason}")]
    public static partial void SimulatedEvidenceNotVerified(ILogger logger, VerificationError code, string reason);

    [LoggerMessage(EventId = 24, Level = LogLevel.Warning, Message = "Refused SIMULATED evidence from platform {PlatformId} by policy: {Violations}")]
    public static partial void SimulatedPolicyViolation(ILogger logger, string platformId, string violations);

    [LoggerMessage(EventId = 25, Level = LogLevel.Warning, Message = "Issued SIMULATED attestation token {TokenId} for platform {PlatformId} in region {Region}, measurement {Measurement}; it is NOT backed by hardware")]
    public static partial void SimulatedTokenIssued(ILogger logger, string tokenId, string platformId, string region, string measurement);

    [LoggerMessage(EventId = 30, Level = LogLevel.Information, Message = "Enrolled platform {PlatformId} in region {Region} (log entry {Sequence}, signed by {EnrolledBy})")]
    public static partial void NodeEnrolled(ILogger logger, string platformId, string region, long sequence, string enrolledBy);

    [LoggerMessage(EventId = 31, Level = LogLevel.Warning, Message = "Moved platform {PlatformId} from region {PreviousRegion} to {Region} (log entry {Sequence}, signed by {EnrolledBy})")]
    public static partial void NodeMoved(ILogger logger, string platformId, string previousRegion, string region, long sequence, string enrolledBy);

    [LoggerMessage(EventId = 32, Level = LogLevel.Warning, Message = "Refused enrolment ({Code}): {Reason}")]
    public static partial void EnrollmentRejected(ILogger logger, EnrollmentError code, string reason);
}
