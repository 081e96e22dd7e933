using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Enclave.AttestationVerifier.Endorsements;

namespace Enclave.AttestationVerifier.Tests;

public sealed class SimulatedPlatformAuthorityTests : IDisposable
{
    private readonly VerifierTestContext _context = new();

    public void Dispose() => _context.Dispose();

    [Fact]
    public void CreateRoot_WritesASelfSignedP256CaLabelledInsecure()
    {
        X509Certificate2 root = _context.Root.Certificate;

        Assert.Equal("CN=Enclave Simulated Root (INSECURE)", root.Subject);
        Assert.Equal(root.Subject, root.Issuer);
        X509BasicConstraintsExtension constraints = root.Extensions.OfType<X509BasicConstraintsExtension>().Single();
        Assert.True(constraints.CertificateAuthority);
        Assert.True(constraints.Critical);
        Assert.Equal(VerifierTestContext.Start.AddMinutes(-5).AddDays(3652), new DateTimeOffset(root.NotAfter.ToUniversalTime()));
        using ECDsa key = root.GetECDsaPublicKey()!;
        Assert.Equal(256, key.KeySize);
        AssertOwnerOnly(Path.Combine(_context.RootDirectory, SimulatedPlatformAuthority.RootKeyFileName));
    }

    [Fact]
    public void CreatePlatform_WritesADigitalSignatureCertificateIssuedByTheRoot()
    {
        using X509Certificate2 platform = SimulatedPlatformAuthority.LoadCertificate(Path.Combine(_context.PlatformDirectory, SimulatedPlatformAuthority.PlatformCertificateFileName));

        Assert.Equal($"CN=Enclave Simulated Platform {_context.PlatformId[..16]}, O=INSECURE SIMULATION", platform.Subject);
        Assert.Equal(_context.Root.Certificate.Subject, platform.Issuer);
        X509KeyUsageExtension usage = platform.Extensions.OfType<X509KeyUsageExtension>().Single();
        Assert.Equal(X509KeyUsageFlags.DigitalSignature, usage.KeyUsages);
        Assert.False(platform.Extensions.OfType<X509BasicConstraintsExtension>().Single().CertificateAuthority);
        Assert.Equal(VerifierTestContext.Start.AddDays(730), new DateTimeOffset(platform.NotAfter.ToUniversalTime()));
        Assert.Equal(_context.PlatformId, PlatformId.Compute(platform));
        Assert.Matches("^[0-9a-f]{64}$", _context.PlatformId);
        Assert.Equal(_context.PlatformId, Convert.ToHexStringLower(SHA256.HashData(_context.PlatformKey.ExportSubjectPublicKeyInfo())));
        AssertOwnerOnly(Path.Combine(_context.PlatformDirectory, SimulatedPlatformAuthority.PlatformKeyFileName));
        Assert.StartsWith("-----BEGIN PRIVATE KEY-----", File.ReadAllText(Path.Combine(_context.PlatformDirectory, SimulatedPlatformAuthority.PlatformKeyFileName)), StringComparison.Ordinal);
    }

    [Fact]
    public void Create_NeverOverwritesExistingMaterial()
    {
        string rootKey = File.ReadAllText(Path.Combine(_context.RootDirectory, SimulatedPlatformAuthority.RootKeyFileName));

        Assert.Throws<IOException>(() => SimulatedPlatformAuthority.CreateRoot(_context.RootDirectory, _context.Time));
        Assert.Throws<IOException>(() => SimulatedPlatformAuthority.CreatePlatform(_context.RootDirectory, _context.PlatformDirectory, _context.Time));
        Assert.Equal(rootKey, File.ReadAllText(Path.Combine(_context.RootDirectory, SimulatedPlatformAuthority.RootKeyFileName)));
    }

    [Fact]
    public void CreatePlatform_TwiceFromOneRoot_GivesDistinctPlatforms()
    {
        string second = SimulatedPlatformAuthority.CreatePlatform(_context.RootDirectory, Path.Combine(_context.Directory, "second"), _context.Time);

        Assert.NotEqual(_context.PlatformId, second);
    }

    [Fact]
    public void SimulatedRoot_RefusesAPlatformCertificate()
    {
        string pem = File.ReadAllText(Path.Combine(_context.PlatformDirectory, SimulatedPlatformAuthority.PlatformCertificateFileName));

        Assert.Throws<InvalidDataException>(() => SimulatedRoot.FromPem(pem));
    }

    [Fact]
    public void SimulatedRoot_RefusesACaWithAnotherSubject()
    {
        using ECDsa key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        CertificateRequest request = new("CN=Some Other Root", key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, false, 0, true));
        using X509Certificate2 other = request.CreateSelfSigned(VerifierTestContext.Start, VerifierTestContext.Start.AddDays(1));

        Assert.Throws<InvalidDataException>(() => SimulatedRoot.FromCertificate(other));
    }

    [Fact]
    public void SimulatedRoot_RefusesANonCaWithTheRootSubject()
    {
        using ECDsa key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        CertificateRequest request = new(SimulatedRoot.SubjectName, key, HashAlgorithmName.SHA256);
        using X509Certificate2 other = request.CreateSelfSigned(VerifierTestContext.Start, VerifierTestContext.Start.AddDays(1));

        Assert.Throws<InvalidDataException>(() => SimulatedRoot.FromCertificate(other));
    }

    [Fact]
    public void SimulatedRoot_RefusesTextWithoutACertificate()
    {
        Assert.Throws<InvalidDataException>(() => SimulatedRoot.FromPem("not a certificate"));
    }

    [Fact]
    public void LoadPrivateKey_RefusesAP384Key()
    {
        using ECDsa key = ECDsa.Create(ECCurve.NamedCurves.nistP384);
        string path = Path.Combine(_context.Directory, "p384.key");
        File.WriteAllText(path, key.ExportPkcs8PrivateKeyPem());

        Assert.Throws<InvalidDataException>(() => SimulatedPlatformAuthority.LoadPrivateKey(path));
    }

    private static void AssertOwnerOnly(string path)
    {
        if (!OperatingSystem.IsWindows())
        {
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(path));
        }
    }
}
