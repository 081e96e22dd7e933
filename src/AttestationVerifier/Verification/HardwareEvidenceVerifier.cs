using Enclave.AttestationVerifier.Appraisal;
using Enclave.AttestationVerifier.Endorsements;
using Enclave.AttestationVerifier.Evidence;

namespace Enclave.AttestationVerifier.Verification;

/// <summary>
/// Lets the verifier service accept one kind of hardware evidence: verifies it with its
/// <see cref="IHardwareVerifier"/> at the service clock's instant, against the collateral the service was
/// configured with, and hands genuine evidence to the common appraisal and token issuance as
/// <see cref="VerifiedEvidence"/> carrying the platform's Azure-named claims.
/// </summary>
internal sealed class HardwareEvidenceVerifier : IEvidenceVerifier
{
    private readonly IHardwareVerifier _inner;
    private readonly EndorsementSet _collateral;
    private readonly TimeProvider _time;

    public HardwareEvidenceVerifier(IHardwareVerifier inner, EndorsementSet collateral, TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(inner);
        ArgumentNullException.ThrowIfNull(collateral);
        ArgumentNullException.ThrowIfNull(time);
        _inner = inner;
        _collateral = collateral;
        _time = time;
        Format = new EvidenceFormat(inner.Kind);
    }

    public EvidenceFormat Format { get; }

    public EvidenceVerificationResult Verify(ReadOnlySpan<byte> evidence)
    {
        DateTimeOffset now = _time.GetUtcNow();
        HardwareVerificationReport report = _inner.Verify(evidence.ToArray(), _collateral, now);
        if (report.Identity is null && report.Errors.FirstOrDefault(e => e.Code == VerificationCodes.Malformed) is { } malformed)
        {
            throw new EvidenceFormatException(Format, EvidenceFormatError.LengthOutOfRange, "evidence", 0, malformed.Message);
        }

        if (!report.Verified || report.Identity is not { } identity)
        {
            string problems = string.Join("; ", report.Errors);
            return EvidenceVerificationResult.Failure(VerificationError.HardwareNotGenuine, $"{_inner.Kind} evidence is not genuine: {problems}");
        }

        string measurement = identity.Measurements.GetValueOrDefault(HardwareAppraiser.PrimaryMeasurementName(_inner.Kind)) ?? string.Empty;
        long svn = identity.Svns.GetValueOrDefault(HardwareAppraiser.PrimarySvnName(_inner.Kind));
        long productId = identity.Svns.GetValueOrDefault("isv_prod_id");
        return EvidenceVerificationResult.Success(new VerifiedEvidence(
            Format,
            Convert.FromHexString(measurement),
            identity.Signer is null ? [] : Convert.FromHexString(identity.Signer),
            (int)Math.Clamp(svn, 0, int.MaxValue),
            (int)Math.Clamp(productId, 0, int.MaxValue),
            identity.Debug,
            identity.ReportData.Span,
            identity.PlatformId,
            report.TcbStatus ?? "unknown",
            isSimulated: false,
            now,
            identity.TokenClaims));
    }
}
