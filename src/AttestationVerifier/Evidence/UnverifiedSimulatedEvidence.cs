namespace Enclave.AttestationVerifier.Evidence;

/// <summary>
/// Simulated evidence (docs/formats.md section 1) as parsed from bytes. Nothing here has been checked beyond
/// its shape: the certificate is not trusted and the signature is not verified. Only a verifier turns it into
/// <see cref="Verification.VerifiedEvidence"/>.
/// </summary>
public sealed record UnverifiedSimulatedEvidence
{
    internal UnverifiedSimulatedEvidence(
        ushort version,
        ushort flags,
        ushort productId,
        ushort svn,
        byte[] measurement,
        byte[] signer,
        byte[] reportData,
        byte[] platformCertificate,
        byte[] signature,
        byte[] signedRegion)
    {
        Version = version;
        Flags = flags;
        ProductId = productId;
        Svn = svn;
        Measurement = measurement;
        Signer = signer;
        ReportData = reportData;
        PlatformCertificate = platformCertificate;
        Signature = signature;
        SignedRegion = signedRegion;
    }

    public ushort Version { get; }

    public ushort Flags { get; }

    public bool IsDebug => (Flags & SimulatedEvidenceParser.DebugFlag) != 0;

    public ushort ProductId { get; }

    public ushort Svn { get; }

    /// <summary>32 bytes: SHA-256 over the enclave's code manifest (section 2).</summary>
    public ReadOnlyMemory<byte> Measurement { get; }

    /// <summary>32 bytes: SHA-256 of <c>enclave-simulated-signer:</c> and the enclave assembly name.</summary>
    public ReadOnlyMemory<byte> Signer { get; }

    /// <summary>64 bytes: SHA-512 of the runtime data.</summary>
    public ReadOnlyMemory<byte> ReportData { get; }

    /// <summary>The platform certificate, X.509 DER, exactly as carried in the evidence.</summary>
    public ReadOnlyMemory<byte> PlatformCertificate { get; }

    /// <summary>64 bytes: ECDSA P-256 signature, IEEE P1363 <c>r‖s</c>.</summary>
    public ReadOnlyMemory<byte> Signature { get; }

    /// <summary>The exact bytes the signature covers: offsets [0, 148 + L).</summary>
    public ReadOnlyMemory<byte> SignedRegion { get; }
}
