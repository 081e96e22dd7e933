using Enclave.KeyBroker.Policy;

namespace Enclave.KeyBroker;

/// <summary>The result of a release request. A grant carries the data key as a compact JWE to the
/// enclave's encryption key; a denial carries the full reason (for logs and the audit log) and a
/// <see cref="WireReason"/> that is safe to return to an unauthenticated caller.</summary>
public sealed class ReleaseOutcome
{
    /// <summary>The wire reason of every denial decided after the token was accepted.</summary>
    public const string CoarseDenial = "ReleaseDenied";

    /// <summary>The wire reason of a release refused because its caller sent too many tokens that did not
    /// validate in the current interval (not audited on its own; see <c>UnauthenticatedReleaseLimiter</c>).</summary>
    public const string RateLimited = "RateLimited";

    private ReleaseOutcome(
        bool isGranted,
        string? wrappedKey,
        int? keyVersion,
        string? receiptId,
        long? auditSequence,
        ReasonCode? reason,
        string wireReason,
        string detail,
        IReadOnlyList<PolicyFailure> failures)
    {
        IsGranted = isGranted;
        WrappedKey = wrappedKey;
        KeyVersion = keyVersion;
        ReceiptId = receiptId;
        AuditSequence = auditSequence;
        Reason = reason;
        WireReason = wireReason;
        Detail = detail;
        PolicyFailures = failures;
    }

    public bool IsGranted { get; }

    /// <summary>Refused without an audit entry of its own: the token did not validate and its caller is over the
    /// interval's allowance; it is counted in that caller's ReleasesThrottled entry. No receipt.</summary>
    public bool IsRateLimited => !IsGranted && ReceiptId is null;

    /// <summary>Granted: the data key as a compact JWE (ECDH-ES+A256KW or RSA-OAEP-256, A256GCM) to the
    /// first <c>use: enc</c> key of the token's top-level <c>x-ms-runtime.keys</c>.</summary>
    public string? WrappedKey { get; }

    public int? KeyVersion { get; }

    /// <summary>The audit entry id (hex entry hash) of the grant or denial.</summary>
    public string? ReceiptId { get; }

    public long? AuditSequence { get; }

    /// <summary>Denied: the precise reason. Never send it to the caller; use <see cref="WireReason"/>.</summary>
    public ReasonCode? Reason { get; }

    /// <summary>Denied: what the caller may learn. Token-stage failures (decided before any key is looked
    /// up: TokenInvalid, KeyInTokenHeader, UnsupportedTokenHeader, AlgorithmNotAllowed, WrongIssuer,
    /// SignatureScalarInvalid, UnknownSigningKey, SignatureInvalid, VerifierKeysUnavailable, TokenExpired,
    /// TokenNotYetValid, TokenLifetimeTooLong, WrongAudience, NonceMissing, NonceMismatch,
    /// NonceUnknownOrReused, NonceExpired, NonceReplayed, NoEncryptionKey, and AttestationTypeNotAllowed for simulated tokens on a
    /// production broker) are reported as such; every later denial (unknown or disabled key, any policy
    /// failure, privacy budget, integrity failure) is <see cref="CoarseDenial"/>, so a caller cannot tell an unknown key
    /// from a policy mismatch. Granted: "Granted".</summary>
    public string WireReason { get; }

    /// <summary>Full explanation, as written to the audit log. Not for the wire.</summary>
    public string Detail { get; }

    /// <summary>Denied by policy: every failed condition.</summary>
    public IReadOnlyList<PolicyFailure> PolicyFailures { get; }

    internal static ReleaseOutcome Granted(string wrappedKey, int keyVersion, string receiptId, long sequence) =>
        new(true, wrappedKey, keyVersion, receiptId, sequence, null, "Granted", "granted", []);

    internal static ReleaseOutcome Throttled(ReasonCode reason, string detail) =>
        new(false, null, null, null, null, reason, RateLimited, detail, []);

    internal static ReleaseOutcome Denied(
        ReasonCode reason, bool tokenStage, string detail, string receiptId, long sequence, IReadOnlyList<PolicyFailure>? failures = null) =>
        new(false, null, null, receiptId, sequence, reason, tokenStage ? reason.ToString() : CoarseDenial, detail, failures ?? []);
}
