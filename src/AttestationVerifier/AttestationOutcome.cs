using System.Text.Json.Nodes;
using Enclave.AttestationVerifier.Appraisal;
using Enclave.AttestationVerifier.Evidence;
using Enclave.AttestationVerifier.Tokens;

namespace Enclave.AttestationVerifier;

/// <summary>The outcome of one attestation request: a token, or a typed reason why none was issued.</summary>
public sealed class AttestationOutcome
{
    private readonly IssuedToken? _token;

    private AttestationOutcome(
        IssuedToken? token,
        AttestationError? error,
        string message,
        EvidenceFormatError? formatError,
        Verification.VerificationError? verificationError,
        IReadOnlyList<AppraisalViolation> violations)
    {
        _token = token;
        Error = error;
        Message = message;
        FormatError = formatError;
        VerificationError = verificationError;
        Violations = violations;
    }

    public bool Succeeded => _token is not null;

    /// <summary>The compact JWT; null on failure.</summary>
    public string? Token => _token?.Token;

    /// <summary>The token's <c>jti</c>; null on failure.</summary>
    public string? TokenId => _token?.TokenId;

    /// <summary>A copy of the token's claims; null on failure.</summary>
    public JsonObject? Claims => _token?.Claims;

    public DateTimeOffset? ExpiresAt => _token?.ExpiresAt;

    public AttestationError? Error { get; }

    /// <summary>A readable reason, safe to return to the caller; it names no secret.</summary>
    public string Message { get; }

    /// <summary>Set when <see cref="Error"/> is <see cref="AttestationError.MalformedEvidence"/>.</summary>
    public EvidenceFormatError? FormatError { get; }

    /// <summary>Set when <see cref="Error"/> is <see cref="AttestationError.EvidenceNotVerified"/>.</summary>
    public Verification.VerificationError? VerificationError { get; }

    /// <summary>Every violation when <see cref="Error"/> is <see cref="AttestationError.PolicyViolation"/>; otherwise empty.</summary>
    public IReadOnlyList<AppraisalViolation> Violations { get; }

    internal static AttestationOutcome Success(IssuedToken token) => new(token, null, "token issued", null, null, []);

    internal static AttestationOutcome Failure(AttestationError error, string message) => new(null, error, message, null, null, []);

    internal static AttestationOutcome Malformed(EvidenceFormatException exception) =>
        new(null, AttestationError.MalformedEvidence, exception.Message, exception.Code, null, []);

    internal static AttestationOutcome NotVerified(Verification.VerificationError error, string message) =>
        new(null, error == Verification.VerificationError.SimulatedNotAllowed ? AttestationError.SimulatedNotAllowed : AttestationError.EvidenceNotVerified, message, null, error, []);

    internal static AttestationOutcome Rejected(IReadOnlyList<AppraisalViolation> violations) =>
        new(null, AttestationError.PolicyViolation, "the evidence does not satisfy the appraisal policy: " + string.Join("; ", violations), null, null, violations);
}
