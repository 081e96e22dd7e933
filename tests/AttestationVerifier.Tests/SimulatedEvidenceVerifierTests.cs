using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Enclave.AttestationVerifier.Endorsements;
using Enclave.AttestationVerifier.Evidence;
using Enclave.AttestationVerifier.Verification;

namespace Enclave.AttestationVerifier.Tests;

public sealed class SimulatedEvidenceVerifierTests : IDisposable
{
    private readonly VerifierTestContext _context = new();
    private readonly byte[] _runtimeData = RuntimeDataBuilder.Create();

    public void Dispose() => _context.Dispose();

    [Fact]
    public void Verify_GenuineEvidence_CarriesItsClaims()
    {
        SimulatedEvidenceBuilder builder = _context.Evidence(_runtimeData);
        SimulatedEvidenceVerifier verifier = new(_context.CreateOptions(), _context.Time);

        EvidenceVerificationResult result = verifier.Verify(builder.Build());

        Assert.True(result.Succeeded, result.Message);
        VerifiedEvidence evidence = result.Evidence!;
        Assert.Equal(EvidenceFormat.Simulated, evidence.Format);
        Assert.Equal(Convert.ToHexStringLower(builder.Measurement), evidence.MeasurementHex);
        Assert.Equal(Convert.ToHexStringLower(builder.Signer), evidence.SignerHex);
        Assert.Equal(Convert.ToHexStringLower(SHA512.HashData(_runtimeData)), evidence.ReportDataHex);
        Assert.Equal(3, evidence.Svn);
        Assert.Equal(7, evidence.ProductId);
        Assert.False(evidence.IsDebug);
        Assert.Equal(_context.PlatformId, evidence.PlatformId);
        Assert.Equal(TcbStatus.UpToDate, evidence.TcbStatus);
        Assert.True(evidence.IsSimulated);
        Assert.Equal(VerifierTestContext.Start, evidence.VerifiedAt);
    }

    [Fact]
    public void Verify_SimulatedNotAllowed_RefusesBeforeParsing()
    {
        SimulatedEvidenceVerifier verifier = new(_context.CreateOptions(allowSimulated: false), _context.Time);

        EvidenceVerificationResult result = verifier.Verify([1, 2, 3]);

        Assert.False(result.Succeeded);
        Assert.Equal(VerificationError.SimulatedNotAllowed, result.Error);
        Assert.Contains("SIMULATED", result.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Constructor_AllowSimulatedWithoutRoot_Throws()
    {
        VerifierOptions options = new(VerifierTestContext.Issuer, _context.DataDirectory) { AllowSimulated = true };

        Assert.Throws<ArgumentException>(() => new SimulatedEvidenceVerifier(options, _context.Time));
    }

    [Theory]
    [InlineData("measurement", 16)]
    [InlineData("signer", 48)]
    [InlineData("report data", 80)]
    [InlineData("report data end", 143)]
    [InlineData("product id", 12)]
    [InlineData("svn", 14)]
    public void Verify_FlippedHeaderByte_FailsTheSignature(string field, int offset)
    {
        byte[] evidence = _context.Evidence(_runtimeData).Build();
        evidence[offset] ^= 0x01;
        SimulatedEvidenceVerifier verifier = new(_context.CreateOptions(), _context.Time);

        EvidenceVerificationResult result = verifier.Verify(evidence);

        Assert.False(result.Succeeded, field);
        Assert.Equal(VerificationError.SignatureInvalid, result.Error);
    }

    [Fact]
    public void Verify_DebugFlagFlipped_FailsTheSignature()
    {
        byte[] evidence = _context.Evidence(_runtimeData).Build();
        evidence[10] ^= 0x01;
        SimulatedEvidenceVerifier verifier = new(_context.CreateOptions(), _context.Time);

        Assert.Equal(VerificationError.SignatureInvalid, verifier.Verify(evidence).Error);
    }

    [Fact]
    public void Verify_FlippedSignatureByte_FailsAtEveryPosition()
    {
        byte[] evidence = _context.Evidence(_runtimeData).Build();
        SimulatedEvidenceVerifier verifier = new(_context.CreateOptions(), _context.Time);
        for (int offset = evidence.Length - 64; offset < evidence.Length; offset++)
        {
            byte[] copy = (byte[])evidence.Clone();
            copy[offset] ^= 0x80;

            Assert.Equal(VerificationError.SignatureInvalid, verifier.Verify(copy).Error);
        }
    }

    [Fact]
    public void Verify_ZeroSignature_Fails()
    {
        byte[] evidence = _context.Evidence(_runtimeData).Build();
        Array.Clear(evidence, evidence.Length - 64, 64);
        SimulatedEvidenceVerifier verifier = new(_context.CreateOptions(), _context.Time);

        Assert.Equal(VerificationError.SignatureInvalid, verifier.Verify(evidence).Error);
    }

    [Fact]
    public void Verify_FlippedCertificateByte_FailsAtEveryPosition()
    {
        byte[] evidence = _context.Evidence(_runtimeData).Build();
        SimulatedEvidenceVerifier verifier = new(_context.CreateOptions(), _context.Time);
        for (int offset = 148; offset < evidence.Length - 64; offset++)
        {
            byte[] copy = (byte[])evidence.Clone();
            copy[offset] ^= 0x01;

            EvidenceVerificationResult result = verifier.Verify(copy);

            Assert.False(result.Succeeded, $"flipped certificate byte at offset {offset} was accepted");
        }
    }

    [Fact]
    public void Verify_AfterEachMalformedCertificate_GenuineEvidenceStillVerifies()
    {
        byte[] evidence = _context.Evidence(_runtimeData).Build();
        SimulatedEvidenceVerifier verifier = new(_context.CreateOptions(), _context.Time);
        for (int offset = 148; offset < evidence.Length - 64; offset++)
        {
            byte[] copy = (byte[])evidence.Clone();
            copy[offset] ^= 0x01;
            EvidenceVerificationResult bad = verifier.Verify(copy);
            Assert.False(bad.Succeeded);

            EvidenceVerificationResult good = verifier.Verify(evidence);

            Assert.True(good.Succeeded, $"after a flip at offset {offset} ({bad.Error}: {bad.Message}), genuine evidence failed: {good.Error}: {good.Message}");
        }
    }

    [Fact]
    public void Verify_CertificateFromAnotherRoot_IsNotTrusted()
    {
        string otherRoot = Path.Combine(_context.Directory, "other-root");
        string otherPlatform = Path.Combine(_context.Directory, "other-platform");
        SimulatedPlatformAuthority.CreateRoot(otherRoot, _context.Time);
        SimulatedPlatformAuthority.CreatePlatform(otherRoot, otherPlatform, _context.Time);
        using ECDsa key = SimulatedPlatformAuthority.LoadPrivateKey(Path.Combine(otherPlatform, SimulatedPlatformAuthority.PlatformKeyFileName));
        using X509Certificate2 certificate = SimulatedPlatformAuthority.LoadCertificate(Path.Combine(otherPlatform, SimulatedPlatformAuthority.PlatformCertificateFileName));
        byte[] evidence = new SimulatedEvidenceBuilder(key, certificate.RawData).ForRuntimeData(_runtimeData).Build();
        SimulatedEvidenceVerifier verifier = new(_context.CreateOptions(), _context.Time);

        EvidenceVerificationResult result = verifier.Verify(evidence);

        Assert.Equal(VerificationError.CertificateNotTrusted, result.Error);
    }

    [Fact]
    public void Verify_RootCertificateAsPlatformCertificate_IsRefused()
    {
        using ECDsa rootKey = SimulatedPlatformAuthority.LoadPrivateKey(Path.Combine(_context.RootDirectory, SimulatedPlatformAuthority.RootKeyFileName));
        byte[] evidence = new SimulatedEvidenceBuilder(rootKey, _context.Root.Certificate.RawData).ForRuntimeData(_runtimeData).Build();
        SimulatedEvidenceVerifier verifier = new(_context.CreateOptions(), _context.Time);

        EvidenceVerificationResult result = verifier.Verify(evidence);

        Assert.Equal(VerificationError.CertificateKeyUsageMissing, result.Error);
    }

    [Fact]
    public void Verify_SignedByAnotherKey_FailsTheSignature()
    {
        using ECDsa otherKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        byte[] evidence = new SimulatedEvidenceBuilder(otherKey, _context.PlatformCertificate).ForRuntimeData(_runtimeData).Build();
        SimulatedEvidenceVerifier verifier = new(_context.CreateOptions(), _context.Time);

        Assert.Equal(VerificationError.SignatureInvalid, verifier.Verify(evidence).Error);
    }

    [Fact]
    public void Verify_AfterThePlatformCertificateExpires_Fails()
    {
        byte[] evidence = _context.Evidence(_runtimeData).Build();
        SimulatedEvidenceVerifier verifier = new(_context.CreateOptions(), _context.Time);
        _context.Time.Set(VerifierTestContext.Start.AddDays(731));

        EvidenceVerificationResult result = verifier.Verify(evidence);

        Assert.Equal(VerificationError.CertificateExpired, result.Error);
    }

    [Fact]
    public void Verify_JustBeforeThePlatformCertificateExpires_Succeeds()
    {
        byte[] evidence = _context.Evidence(_runtimeData).Build();
        SimulatedEvidenceVerifier verifier = new(_context.CreateOptions(), _context.Time);
        _context.Time.Set(VerifierTestContext.Start.AddDays(729));

        Assert.True(verifier.Verify(evidence).Succeeded);
    }

    [Fact]
    public void Verify_BeforeThePlatformCertificateIsValid_Fails()
    {
        // Root created a year earlier; the platform certificate starts five minutes before Start.
        string root = Path.Combine(_context.Directory, "early-root");
        string platform = Path.Combine(_context.Directory, "late-platform");
        SimulatedPlatformAuthority.CreateRoot(root, new ManualTimeProvider(VerifierTestContext.Start.AddDays(-365)));
        SimulatedPlatformAuthority.CreatePlatform(root, platform, _context.Time);
        using SimulatedRoot trusted = SimulatedRoot.LoadFile(Path.Combine(root, SimulatedPlatformAuthority.RootCertificateFileName));
        using ECDsa key = SimulatedPlatformAuthority.LoadPrivateKey(Path.Combine(platform, SimulatedPlatformAuthority.PlatformKeyFileName));
        using X509Certificate2 certificate = SimulatedPlatformAuthority.LoadCertificate(Path.Combine(platform, SimulatedPlatformAuthority.PlatformCertificateFileName));
        byte[] evidence = new SimulatedEvidenceBuilder(key, certificate.RawData).ForRuntimeData(_runtimeData).Build();
        VerifierOptions options = _context.CreateOptions();
        options.SimulatedRoot = trusted;
        SimulatedEvidenceVerifier verifier = new(options, _context.Time);

        _context.Time.Set(VerifierTestContext.Start.AddMinutes(-6));
        Assert.Equal(VerificationError.CertificateNotYetValid, verifier.Verify(evidence).Error);

        _context.Time.Set(VerifierTestContext.Start);
        Assert.True(verifier.Verify(evidence).Succeeded);
    }

    [Fact]
    public void CreatePlatform_NearTheRootsExpiry_EndsWithTheRoot()
    {
        string root = Path.Combine(_context.Directory, "old-root");
        string platform = Path.Combine(_context.Directory, "young-platform");
        SimulatedPlatformAuthority.CreateRoot(root, new ManualTimeProvider(VerifierTestContext.Start.AddDays(-3600)));
        SimulatedPlatformAuthority.CreatePlatform(root, platform, _context.Time);
        using SimulatedRoot trusted = SimulatedRoot.LoadFile(Path.Combine(root, SimulatedPlatformAuthority.RootCertificateFileName));
        using ECDsa key = SimulatedPlatformAuthority.LoadPrivateKey(Path.Combine(platform, SimulatedPlatformAuthority.PlatformKeyFileName));
        using X509Certificate2 certificate = SimulatedPlatformAuthority.LoadCertificate(Path.Combine(platform, SimulatedPlatformAuthority.PlatformCertificateFileName));
        byte[] evidence = new SimulatedEvidenceBuilder(key, certificate.RawData).ForRuntimeData(_runtimeData).Build();
        VerifierOptions options = _context.CreateOptions();
        options.SimulatedRoot = trusted;
        SimulatedEvidenceVerifier verifier = new(options, _context.Time);

        Assert.Equal(trusted.Certificate.NotAfter, certificate.NotAfter);
        Assert.True(verifier.Verify(evidence).Succeeded);
        _context.Time.Set(new DateTimeOffset(trusted.Certificate.NotAfter.ToUniversalTime()).AddSeconds(1));
        Assert.Equal(VerificationError.CertificateExpired, verifier.Verify(evidence).Error);
    }

    [Fact]
    public void Verify_CertificateWithoutDigitalSignature_IsRefused()
    {
        using ECDsa rootKey = SimulatedPlatformAuthority.LoadPrivateKey(Path.Combine(_context.RootDirectory, SimulatedPlatformAuthority.RootKeyFileName));
        using X509Certificate2 issuer = _context.Root.Certificate.CopyWithPrivateKey(rootKey);
        using ECDsa key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        CertificateRequest request = new("CN=Enclave Simulated Platform test, O=INSECURE SIMULATION", key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyAgreement, true));
        using X509Certificate2 certificate = request.Create(issuer, VerifierTestContext.Start, VerifierTestContext.Start.AddDays(30), [1, 2, 3, 4]);
        byte[] evidence = new SimulatedEvidenceBuilder(key, certificate.RawData).ForRuntimeData(_runtimeData).Build();
        SimulatedEvidenceVerifier verifier = new(_context.CreateOptions(), _context.Time);

        Assert.Equal(VerificationError.CertificateKeyUsageMissing, verifier.Verify(evidence).Error);
    }

    [Fact]
    public void Verify_CertificateWithP384Key_IsRefused()
    {
        using ECDsa rootKey = SimulatedPlatformAuthority.LoadPrivateKey(Path.Combine(_context.RootDirectory, SimulatedPlatformAuthority.RootKeyFileName));
        using X509Certificate2 issuer = _context.Root.Certificate.CopyWithPrivateKey(rootKey);
        using ECDsa key = ECDsa.Create(ECCurve.NamedCurves.nistP384);
        CertificateRequest request = new("CN=Enclave Simulated Platform test", key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, true));
        using X509Certificate2 certificate = request.Create(issuer, VerifierTestContext.Start, VerifierTestContext.Start.AddDays(30), [1, 2, 3, 4]);
        byte[] evidence = new SimulatedEvidenceBuilder(_context.PlatformKey, certificate.RawData).ForRuntimeData(_runtimeData).Build();
        SimulatedEvidenceVerifier verifier = new(_context.CreateOptions(), _context.Time);

        Assert.Equal(VerificationError.CertificateKeyNotSupported, verifier.Verify(evidence).Error);
    }

    [Fact]
    public void Verify_GarbageCertificate_IsMalformed()
    {
        byte[] evidence = new SimulatedEvidenceBuilder(_context.PlatformKey, [0x30, 0x03, 0x02, 0x01, 0x00]).ForRuntimeData(_runtimeData).Build();
        SimulatedEvidenceVerifier verifier = new(_context.CreateOptions(), _context.Time);

        Assert.Equal(VerificationError.CertificateMalformed, verifier.Verify(evidence).Error);
    }
}
