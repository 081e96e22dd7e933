using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Enclave.AttestationVerifier.Endorsements;

/// <summary>
/// Creates INSECURE simulated platform material (docs/formats.md section 1): a simulated root and platform keys
/// certified by it. Used by <c>enclave node init</c> and by tests. Never use this material outside development.
/// Existing files are never overwritten; key files are created readable by their owner only.
/// </summary>
public static class SimulatedPlatformAuthority
{
    public const string RootKeyFileName = "root.key";
    public const string RootCertificateFileName = "root.crt";
    public const string PlatformKeyFileName = "platform.key";
    public const string PlatformCertificateFileName = "platform.crt";
    public const string PlatformOrganization = "INSECURE SIMULATION";

    private static readonly TimeSpan s_rootLifetime = TimeSpan.FromDays(3652);
    private static readonly TimeSpan s_platformLifetime = TimeSpan.FromDays(730);

    // Tolerates small clock differences between the machine that creates the material and the verifier.
    private static readonly TimeSpan s_backdating = TimeSpan.FromMinutes(5);

    /// <summary>Writes <c>root.key</c> and <c>root.crt</c> into <paramref name="directory"/>.</summary>
    /// <returns>The path of <c>root.crt</c>.</returns>
    /// <exception cref="IOException">One of the files already exists.</exception>
    public static string CreateRoot(string directory, TimeProvider? timeProvider = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        DateTimeOffset now = (timeProvider ?? TimeProvider.System).GetUtcNow();
        Directory.CreateDirectory(directory);
        string keyPath = Path.Combine(directory, RootKeyFileName);
        string certificatePath = Path.Combine(directory, RootCertificateFileName);
        EnsureAbsent(keyPath);
        EnsureAbsent(certificatePath);

        using ECDsa key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        CertificateRequest request = new(SimulatedRoot.SubjectName, key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(true, true, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.KeyCertSign | X509KeyUsageFlags.CrlSign, true));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
        DateTimeOffset notBefore = now - s_backdating;
        using X509Certificate2 certificate = request.CreateSelfSigned(notBefore, notBefore + s_rootLifetime);

        KeyFiles.WritePrivate(keyPath, key.ExportPkcs8PrivateKeyPem());
        KeyFiles.WritePublic(certificatePath, certificate.ExportCertificatePem());
        return certificatePath;
    }

    /// <summary>
    /// Writes <c>platform.key</c> and <c>platform.crt</c> into <paramref name="platformDirectory"/>, certified by
    /// the root in <paramref name="rootDirectory"/>.
    /// </summary>
    /// <returns>The platform id to enrol.</returns>
    /// <exception cref="IOException">One of the platform files already exists.</exception>
    /// <exception cref="InvalidDataException">The root directory does not hold a simulated root and its key.</exception>
    public static string CreatePlatform(string rootDirectory, string platformDirectory, TimeProvider? timeProvider = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(rootDirectory);
        ArgumentException.ThrowIfNullOrEmpty(platformDirectory);
        DateTimeOffset now = (timeProvider ?? TimeProvider.System).GetUtcNow();
        string keyPath = Path.Combine(platformDirectory, PlatformKeyFileName);
        string certificatePath = Path.Combine(platformDirectory, PlatformCertificateFileName);
        EnsureAbsent(keyPath);
        EnsureAbsent(certificatePath);

        using SimulatedRoot root = SimulatedRoot.LoadFile(Path.Combine(rootDirectory, RootCertificateFileName));
        using ECDsa rootKey = LoadPrivateKey(Path.Combine(rootDirectory, RootKeyFileName));
        using (ECDsa rootPublic = root.Certificate.GetECDsaPublicKey()!)
        {
            if (!rootKey.ExportSubjectPublicKeyInfo().AsSpan().SequenceEqual(rootPublic.ExportSubjectPublicKeyInfo()))
            {
                throw new InvalidDataException($"simulated root: {RootKeyFileName} does not match {RootCertificateFileName}");
            }
        }

        using X509Certificate2 issuer = root.Certificate.CopyWithPrivateKey(rootKey);
        using ECDsa key = ECDsa.Create(ECCurve.NamedCurves.nistP256);
        string platformId = PlatformId.Compute(key.ExportSubjectPublicKeyInfo());

        X500DistinguishedNameBuilder subject = new();
        subject.AddCommonName($"Enclave Simulated Platform {platformId[..16]}");
        subject.AddOrganizationName(PlatformOrganization);
        CertificateRequest request = new(subject.Build(), key, HashAlgorithmName.SHA256);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature, true));
        request.CertificateExtensions.Add(new X509SubjectKeyIdentifierExtension(request.PublicKey, false));
        request.CertificateExtensions.Add(X509AuthorityKeyIdentifierExtension.CreateFromCertificate(issuer, true, false));

        DateTimeOffset notBefore = Max(now - s_backdating, issuer.NotBefore.ToUniversalTime());
        DateTimeOffset notAfter = Min(now + s_platformLifetime, issuer.NotAfter.ToUniversalTime());
        if (notAfter <= notBefore)
        {
            throw new InvalidDataException("simulated root: the root certificate is not valid now");
        }

        byte[] serial = RandomNumberGenerator.GetBytes(16);
        serial[0] &= 0x7f;
        using X509Certificate2 certificate = request.Create(issuer, notBefore, notAfter, serial);

        Directory.CreateDirectory(platformDirectory);
        KeyFiles.WritePrivate(keyPath, key.ExportPkcs8PrivateKeyPem());
        KeyFiles.WritePublic(certificatePath, certificate.ExportCertificatePem());
        return platformId;
    }

    /// <summary>Loads a PKCS#8 PEM ECDSA P-256 private key, such as <c>platform.key</c>.</summary>
    /// <exception cref="InvalidDataException">The file does not hold an ECDSA P-256 private key.</exception>
    public static ECDsa LoadPrivateKey(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        return KeyFiles.LoadP256PrivateKey(path);
    }

    /// <summary>Loads a PEM certificate, such as <c>platform.crt</c>.</summary>
    public static X509Certificate2 LoadCertificate(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        return X509Certificate2.CreateFromPem(File.ReadAllText(path));
    }

    private static void EnsureAbsent(string path)
    {
        if (File.Exists(path))
        {
            throw new IOException($"{path} already exists; simulated platform material is never overwritten");
        }
    }

    private static DateTimeOffset Max(DateTimeOffset a, DateTimeOffset b) => a > b ? a : b;

    private static DateTimeOffset Min(DateTimeOffset a, DateTimeOffset b) => a < b ? a : b;
}
