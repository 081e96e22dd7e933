using Enclave.AttestationVerifier.Appraisal;
using Enclave.AttestationVerifier.Endorsements;
using Enclave.AttestationVerifier.Evidence;
using Enclave.AttestationVerifier.Nodes;
using Enclave.AttestationVerifier.Tokens;
using Enclave.AttestationVerifier.Verification;
using Enclave.Crypto;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Enclave.AttestationVerifier;

/// <summary>
/// The attestation verifier without its transport: evidence in, token out (parse, verify, appraise, issue), node
/// enrolment, and the published signing keys. Every expected failure is a typed outcome, never an exception.
/// Safe to call concurrently.
/// </summary>
public sealed class AttestationService : IDisposable
{
    private readonly VerifierOptions _options;
    private readonly ILogger _logger;
    private readonly Dictionary<EvidenceFormat, IEvidenceVerifier> _verifiers;
    private readonly Appraiser _appraiser;
    private readonly VerifierSigningKey _signingKey;
    private readonly TokenIssuer _tokenIssuer;

    /// <exception cref="ArgumentException">The options are inconsistent.</exception>
    /// <exception cref="InvalidDataException">The signing key in the data directory is not an ECDSA P-256 key.</exception>
    /// <exception cref="EndorsementException">A configured collateral path is missing or unusable.</exception>
    public AttestationService(VerifierOptions options, ILogger? logger = null, TimeProvider? timeProvider = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        timeProvider ??= TimeProvider.System;
        _options = options;
        _logger = logger ?? NullLogger.Instance;

        Directory.CreateDirectory(options.DataDirectory);
        Nodes = new NodeRegistry(Path.Combine(options.DataDirectory, VerifierOptions.DatabaseFileName), options.EnrollmentKeys, timeProvider);
        _appraiser = new Appraiser(Nodes);
        _signingKey = VerifierSigningKey.LoadOrCreate(options.DataDirectory);
        _tokenIssuer = new TokenIssuer(_signingKey, options, timeProvider);

        EndorsementSet collateral = options.CollateralPaths.Count == 0 ? EndorsementSet.Empty : EndorsementSet.Load(options.CollateralPaths);
        IEvidenceVerifier[] verifiers =
        [
            new SimulatedEvidenceVerifier(options, timeProvider),
            .. HardwareVerifiers.Evidence.Select(v => new HardwareEvidenceVerifier(v, collateral, timeProvider)),
        ];
        _verifiers = verifiers.ToDictionary(v => v.Format);

        if (options.AllowSimulated)
        {
            VerifierLog.SimulatedModeEnabled(_logger, options.SimulatedRoot!.Certificate.Subject, options.SimulatedRoot.Certificate.GetCertHashString(System.Security.Cryptography.HashAlgorithmName.SHA256));
            VerifierLog.ReadyWithSimulated(_logger, options.Issuer, options.Audience, _signingKey.KeyId);
        }
        else
        {
            VerifierLog.Ready(_logger, options.Issuer, options.Audience, _signingKey.KeyId);
        }
    }

    /// <summary>The node registry, for listing enrolments and checking the enrolment log.</summary>
    public NodeRegistry Nodes { get; }

    /// <summary>The <c>kid</c> of the token-signing key.</summary>
    public string SigningKeyId => _signingKey.KeyId;

    /// <summary>The evidence formats this verifier has a verifier for.</summary>
    public IReadOnlyCollection<EvidenceFormat> SupportedFormats => _verifiers.Keys;

    /// <summary>Verifies <paramref name="evidence"/>, appraises it with <paramref name="runtimeData"/>, and issues a token.</summary>
    /// <param name="runtimeData">The exact runtime data bytes whose SHA-512 the evidence carries as report data.</param>
    public AttestationOutcome Attest(EvidenceFormat format, byte[] evidence, byte[] runtimeData)
    {
        ArgumentNullException.ThrowIfNull(evidence);
        ArgumentNullException.ThrowIfNull(runtimeData);
        return Attest(format, evidence.AsSpan(), runtimeData.AsSpan());
    }

    /// <inheritdoc cref="Attest(EvidenceFormat, byte[], byte[])"/>
    public AttestationOutcome Attest(EvidenceFormat format, ReadOnlySpan<byte> evidence, ReadOnlySpan<byte> runtimeData)
    {
        AttestationOutcome outcome = AttestOnce(format, evidence, runtimeData);
        VerifierMetrics.Verification(format, _verifiers.ContainsKey(format), outcome);
        return outcome;
    }

    private AttestationOutcome AttestOnce(EvidenceFormat format, ReadOnlySpan<byte> evidence, ReadOnlySpan<byte> runtimeData)
    {
        bool simulated = format == EvidenceFormat.Simulated;
        if (!_verifiers.TryGetValue(format, out IEvidenceVerifier? verifier))
        {
            VerifierLog.UnsupportedFormat(_logger, format.Value);
            return AttestationOutcome.Failure(AttestationError.UnsupportedFormat, $"evidence format '{format}' is not supported; supported: {string.Join(", ", _verifiers.Keys)}");
        }

        string? tooLarge = evidence.Length > VerifierOptions.MaxEvidenceLength
            ? $"evidence is {evidence.Length} bytes; the limit is {VerifierOptions.MaxEvidenceLength}"
            : runtimeData.Length > RuntimeData.MaxLength
                ? $"runtime data is {runtimeData.Length} bytes; the limit is {RuntimeData.MaxLength}"
                : null;
        if (tooLarge is not null)
        {
            if (simulated)
            {
                VerifierLog.SimulatedRequestTooLarge(_logger, tooLarge);
            }
            else
            {
                VerifierLog.RequestTooLarge(_logger, format.Value, tooLarge);
            }

            return AttestationOutcome.Failure(AttestationError.RequestTooLarge, tooLarge);
        }

        EvidenceVerificationResult verification;
        try
        {
            verification = verifier.Verify(evidence);
        }
        catch (EvidenceFormatException ex)
        {
            if (simulated)
            {
                VerifierLog.SimulatedEvidenceMalformed(_logger, ex.Code, ex.Message);
            }
            else
            {
                VerifierLog.EvidenceMalformed(_logger, format.Value, ex.Code, ex.Message);
            }

            return AttestationOutcome.Malformed(ex);
        }

        if (!verification.Succeeded)
        {
            VerificationError error = verification.Error!.Value;
            if (error == VerificationError.SimulatedNotAllowed)
            {
                VerifierLog.SimulatedNotAllowed(_logger);
            }
            else if (simulated)
            {
                VerifierLog.SimulatedEvidenceNotVerified(_logger, error, verification.Message);
            }
            else
            {
                VerifierLog.EvidenceNotVerified(_logger, format.Value, error, verification.Message);
            }

            return AttestationOutcome.NotVerified(error, verification.Message);
        }

        VerifiedEvidence verified = verification.Evidence!;
        AppraisalResult appraisal = _appraiser.Appraise(verified, runtimeData, _options.Policy);
        if (!appraisal.IsAllowed)
        {
            string violations = string.Join("; ", appraisal.Violations);
            if (verified.IsSimulated)
            {
                VerifierLog.SimulatedPolicyViolation(_logger, verified.PlatformId, violations);
            }
            else
            {
                VerifierLog.PolicyViolation(_logger, format.Value, verified.PlatformId, violations);
            }

            return AttestationOutcome.Rejected(appraisal.Violations);
        }

        IssuedToken token = _tokenIssuer.Issue(verified, runtimeData, appraisal.Region!);
        if (verified.IsSimulated)
        {
            VerifierLog.SimulatedTokenIssued(_logger, token.TokenId, verified.PlatformId, appraisal.Region!, verified.MeasurementHex);
        }
        else
        {
            VerifierLog.TokenIssued(_logger, format.Value, token.TokenId, verified.PlatformId, appraisal.Region!, verified.MeasurementHex);
        }

        return AttestationOutcome.Success(token);
    }

    /// <summary>Applies a security team's signed enrolment request (see <see cref="EnrollmentRequest"/>).</summary>
    public EnrollmentOutcome Enroll(string signedEnrollment)
    {
        ArgumentNullException.ThrowIfNull(signedEnrollment);
        EnrollmentOutcome outcome = Nodes.Enroll(signedEnrollment);
        if (outcome.Enrollment is { } enrollment)
        {
            if (outcome.PreviousRegion is { } previous)
            {
                VerifierLog.NodeMoved(_logger, enrollment.PlatformId, previous, enrollment.Region, enrollment.Sequence, enrollment.EnrolledBy);
            }
            else
            {
                VerifierLog.NodeEnrolled(_logger, enrollment.PlatformId, enrollment.Region, enrollment.Sequence, enrollment.EnrolledBy);
            }
        }
        else
        {
            VerifierLog.EnrollmentRejected(_logger, outcome.Error!.Value, outcome.Message);
        }

        return outcome;
    }

    /// <summary>The JWKS (RFC 7517) of the token-signing keys, served at <c>/certs</c>.</summary>
    public string GetJwks() => new JwkSet([_signingKey.PublicJwk]).ToJson();

    /// <summary>The OpenID Provider metadata, served at <c>/.well-known/openid-configuration</c>.</summary>
    public string GetOpenIdConfiguration() => OpenIdMetadata.ToJson(_options.Issuer);

    public void Dispose() => _signingKey.Dispose();
}
