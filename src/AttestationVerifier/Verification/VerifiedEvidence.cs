using Enclave.AttestationVerifier.Evidence;

namespace Enclave.AttestationVerifier.Verification;

/// <summary>
/// Evidence whose signature and certificate chain a verifier has checked against a trusted root at
/// <see cref="VerifiedAt"/>. Only verifiers construct it, so appraisal and token issuance cannot be handed
/// unverified data. It says nothing yet about policy.
/// </summary>
public sealed class VerifiedEvidence
{
    internal VerifiedEvidence(
        EvidenceFormat format,
        ReadOnlySpan<byte> measurement,
        ReadOnlySpan<byte> signer,
        int svn,
        int productId,
        bool isDebug,
        ReadOnlySpan<byte> reportData,
        string platformId,
        string tcbStatus,
        bool isSimulated,
        DateTimeOffset verifiedAt,
        IReadOnlyDictionary<string, object>? platformClaims = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(platformId);
        ArgumentException.ThrowIfNullOrEmpty(tcbStatus);
        Format = format;
        Measurement = measurement.ToArray();
        Signer = signer.ToArray();
        Svn = svn;
        ProductId = productId;
        IsDebug = isDebug;
        ReportData = reportData.ToArray();
        PlatformId = platformId;
        TcbStatus = tcbStatus;
        IsSimulated = isSimulated;
        VerifiedAt = verifiedAt;
        PlatformClaims = platformClaims ?? new Dictionary<string, object>();
    }

    public EvidenceFormat Format { get; }

    public ReadOnlyMemory<byte> Measurement { get; }

    public ReadOnlyMemory<byte> Signer { get; }

    public int Svn { get; }

    public int ProductId { get; }

    public bool IsDebug { get; }

    /// <summary>The report data the platform signed; appraisal checks it binds the runtime data.</summary>
    public ReadOnlyMemory<byte> ReportData { get; }

    /// <summary>The platform identity that security teams enrol with a region.</summary>
    public string PlatformId { get; }

    /// <summary>One of the <see cref="Verification.TcbStatus"/> names.</summary>
    public string TcbStatus { get; }

    /// <summary>True for evidence from the simulated enclave, which is not secure against its host.</summary>
    public bool IsSimulated { get; }

    public DateTimeOffset VerifiedAt { get; }

    /// <summary>
    /// For hardware evidence: the platform's claims under Azure Attestation names (x-ms-sgx-*, x-ms-sevsnpvm-*,
    /// TDX EAT profile), which the token carries instead of the simulated enclave's x-ms-sgx-* claims.
    /// </summary>
    public IReadOnlyDictionary<string, object> PlatformClaims { get; }

    public string MeasurementHex => Convert.ToHexStringLower(Measurement.Span);

    public string SignerHex => Convert.ToHexStringLower(Signer.Span);

    public string ReportDataHex => Convert.ToHexStringLower(ReportData.Span);
}
