using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Enclave.AttestationVerifier.Endorsements;
using Enclave.AttestationVerifier.Evidence;

namespace Enclave.AttestationVerifier.Verification;

/// <summary>
/// Verifies simulated evidence (docs/formats.md section 1): the platform certificate chains directly to the
/// configured simulated root, is valid at the verification instant and carries digitalSignature, and the
/// evidence signature verifies with its key. Accepts nothing unless <see cref="VerifierOptions.AllowSimulated"/>.
/// Revocation is not checked: the simulated root publishes no CRL.
/// </summary>
public sealed class SimulatedEvidenceVerifier : IEvidenceVerifier
{
    private readonly SimulatedRoot? _root;
    private readonly bool _allowSimulated;
    private readonly TimeProvider _timeProvider;

    /// <exception cref="ArgumentException">Simulated evidence is allowed but no simulated root is configured.</exception>
    public SimulatedEvidenceVerifier(VerifierOptions options, TimeProvider? timeProvider = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (options.AllowSimulated && options.SimulatedRoot is null)
        {
            throw new ArgumentException("AllowSimulated requires a SimulatedRoot", nameof(options));
        }

        _allowSimulated = options.AllowSimulated;
        _root = options.SimulatedRoot;
        _timeProvider = timeProvider ?? TimeProvider.System;
    }

    public EvidenceFormat Format => EvidenceFormat.Simulated;

    /// <exception cref="EvidenceFormatException">The bytes are not well-formed simulated evidence.</exception>
    public EvidenceVerificationResult Verify(ReadOnlySpan<byte> evidence)
    {
        if (!_allowSimulated)
        {
            return SimulatedNotAllowed();
        }

        return Verify(SimulatedEvidenceParser.Parse(evidence));
    }

    public EvidenceVerificationResult Verify(UnverifiedSimulatedEvidence evidence)
    {
        ArgumentNullException.ThrowIfNull(evidence);
        if (!_allowSimulated || _root is null)
        {
            return SimulatedNotAllowed();
        }

        DateTimeOffset now = _timeProvider.GetUtcNow();
        try
        {
            using X509Certificate2 certificate = X509CertificateLoader.LoadCertificate(evidence.PlatformCertificate.Span);
            return VerifyCore(evidence, certificate, now);
        }
        catch (CryptographicException ex)
        {
            // Certificate fields are decoded lazily, so a malformed field can surface at any access.
            return Fail(VerificationError.CertificateMalformed, $"the platform certificate is not well-formed X.509 DER: {ex.Message}");
        }
    }

    private EvidenceVerificationResult VerifyCore(UnverifiedSimulatedEvidence evidence, X509Certificate2 certificate, DateTimeOffset now)
    {
        if (!certificate.RawData.AsSpan().SequenceEqual(evidence.PlatformCertificate.Span))
        {
            return Fail(VerificationError.CertificateMalformed, "the platform certificate field holds bytes beyond one DER certificate");
        }

        DateTimeOffset notBefore = certificate.NotBefore.ToUniversalTime();
        DateTimeOffset notAfter = certificate.NotAfter.ToUniversalTime();
        if (now < notBefore)
        {
            return Fail(VerificationError.CertificateNotYetValid, $"the platform certificate is not valid before {notBefore:O}; now is {now:O}");
        }

        if (now > notAfter)
        {
            return Fail(VerificationError.CertificateExpired, $"the platform certificate expired at {notAfter:O}; now is {now:O}");
        }

        X509KeyUsageExtension? usage = certificate.Extensions.OfType<X509KeyUsageExtension>().FirstOrDefault();
        if (usage is null || (usage.KeyUsages & X509KeyUsageFlags.DigitalSignature) == 0)
        {
            return Fail(VerificationError.CertificateKeyUsageMissing, "the platform certificate does not allow digitalSignature");
        }

        using ECDsa? key = certificate.GetECDsaPublicKey();
        if (key is null || !CertificateKeys.IsP256(key))
        {
            return Fail(VerificationError.CertificateKeyNotSupported, "the platform certificate key is not ECDSA P-256");
        }

        string? chainProblem = CheckChain(certificate, now);
        if (chainProblem is not null)
        {
            return Fail(VerificationError.CertificateNotTrusted, chainProblem);
        }

        if (evidence.Signature.Length != SimulatedEvidenceParser.SignatureLength
            || !key.VerifyData(evidence.SignedRegion.Span, evidence.Signature.Span, HashAlgorithmName.SHA256, DSASignatureFormat.IeeeP1363FixedFieldConcatenation))
        {
            return Fail(VerificationError.SignatureInvalid, "the evidence signature does not verify with the platform key");
        }

        VerifiedEvidence verified = new(
            EvidenceFormat.Simulated,
            evidence.Measurement.Span,
            evidence.Signer.Span,
            evidence.Svn,
            evidence.ProductId,
            evidence.IsDebug,
            evidence.ReportData.Span,
            PlatformId.Compute(certificate),
            TcbStatus.UpToDate,
            isSimulated: true,
            now);
        return EvidenceVerificationResult.Success(verified);
    }

    // The shared path builder: issued directly by the simulated root (a path of two), the leaf allowing
    // digitalSignature, both valid now.
    private string? CheckChain(X509Certificate2 certificate, DateTimeOffset now)
    {
        CertificatePath path = CertificateChain.Build(certificate, [], _root!.Certificate, new ChainRules(2, LeafDigitalSignature: true));
        if (!path.IsValid)
        {
            return path.Failure == ChainFailure.WrongPath
                ? "the platform certificate is not issued directly by the simulated root"
                : $"the platform certificate does not chain to the simulated root: {path.Message}";
        }

        int invalid = path.FirstInvalidAt(now);
        return invalid < 0 ? null : $"'{path.Chain[invalid].Subject}' is valid {path.DescribeValidity(invalid)}, not at {now:O}";
    }

    private static EvidenceVerificationResult SimulatedNotAllowed() =>
        EvidenceVerificationResult.Failure(VerificationError.SimulatedNotAllowed, "SIMULATED evidence is not accepted: the verifier was not started with simulated evidence allowed");

    private static EvidenceVerificationResult Fail(VerificationError error, string message) =>
        EvidenceVerificationResult.Failure(error, "SIMULATED evidence: " + message);
}
