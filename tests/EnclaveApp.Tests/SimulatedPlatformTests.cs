using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Enclave.Crypto;
using Enclave.EnclaveApp.Attestation;

namespace Enclave.EnclaveApp.Tests;

public sealed class SimulatedPlatformTests : IDisposable
{
    private readonly string _directory = Path.Combine(Path.GetTempPath(), "enclave-platform-" + Guid.NewGuid().ToString("N"));

    public SimulatedPlatformTests()
    {
        Directory.CreateDirectory(_directory);
        using var rootKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var rootRequest = new CertificateRequest("CN=Enclave Simulated Root (INSECURE)", rootKey, HashAlgorithmName.SHA256);
        rootRequest.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        using X509Certificate2 root = rootRequest.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddYears(1));
        using var platformKey = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        var request = new CertificateRequest("CN=Enclave Simulated Platform test, O=INSECURE SIMULATION", platformKey, HashAlgorithmName.SHA256);
        using X509Certificate2 platform = request.Create(root, DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddYears(1), [1, 2, 3]);
        File.WriteAllText(Path.Combine(_directory, "platform.key"), platformKey.ExportPkcs8PrivateKeyPem());
        File.WriteAllText(Path.Combine(_directory, "platform.crt"), platform.ExportCertificatePem());
    }

    [Fact]
    public void EvidenceFollowsTheDocumentedLayoutAndIsSignedByThePlatformKey()
    {
        using SimulatedPlatform platform = SimulatedPlatform.Load(_directory, AppContext.BaseDirectory);
        byte[] reportData = RandomNumberGenerator.GetBytes(64);
        byte[] evidence = platform.CreateEvidence(reportData);

        Assert.Equal("ENCSIMQ1"u8.ToArray(), evidence[..8]);
        Assert.Equal(1, BinaryPrimitives.ReadUInt16LittleEndian(evidence.AsSpan(8)));
        Assert.Equal(0, BinaryPrimitives.ReadUInt16LittleEndian(evidence.AsSpan(10)));
        Assert.Equal(platform.Measurement, evidence[16..48]);
        Assert.Equal(CodeManifest.Measure(AppContext.BaseDirectory), platform.Measurement);
        Assert.Equal(reportData, evidence[80..144]);
        int certificateLength = (int)BinaryPrimitives.ReadUInt32LittleEndian(evidence.AsSpan(144));
        Assert.Equal(212 + certificateLength, evidence.Length);

        using X509Certificate2 certificate = X509CertificateLoader.LoadCertificate(evidence.AsSpan(148, certificateLength));
        using ECDsa key = certificate.GetECDsaPublicKey()!;
        Assert.True(key.VerifyData(evidence.AsSpan(0, 148 + certificateLength), evidence.AsSpan(148 + certificateLength), HashAlgorithmName.SHA256, DSASignatureFormat.IeeeP1363FixedFieldConcatenation));
        Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(certificate.PublicKey.ExportSubjectPublicKeyInfo())), platform.PlatformId);
    }

    [Fact]
    public void TheDebugFlagIsBitZeroAndReportDataMustBe64Bytes()
    {
        using SimulatedPlatform platform = SimulatedPlatform.Load(_directory, AppContext.BaseDirectory);
        Assert.Equal(1, BinaryPrimitives.ReadUInt16LittleEndian(platform.CreateEvidence(new byte[64], debug: true).AsSpan(10)));
        Assert.Throws<ArgumentException>(() => platform.CreateEvidence(new byte[32]));
    }

    [Fact]
    public void ChangingAnyEnclaveAssemblyChangesTheMeasurement()
    {
        string code = Path.Combine(_directory, "code");
        Directory.CreateDirectory(code);
        foreach (string file in Directory.GetFiles(AppContext.BaseDirectory, "Enclave.*.dll"))
        {
            File.Copy(file, Path.Combine(code, Path.GetFileName(file)));
        }

        byte[] before = CodeManifest.Measure(code);
        using (var stream = new FileStream(Path.Combine(code, "Enclave.EnclaveApp.dll"), FileMode.Append))
        {
            stream.WriteByte(0);
        }

        Assert.NotEqual(before, CodeManifest.Measure(code));
    }

    public void Dispose() => Directory.Delete(_directory, recursive: true);
}
