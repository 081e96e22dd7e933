using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Enclave.AttestationVerifier.Endorsements;

/// <summary>
/// The trust anchor for simulated evidence: a self-signed ECDSA P-256 CA certificate whose subject is
/// <c>CN=Enclave Simulated Root (INSECURE)</c>. Anyone holding its key can forge evidence; trust it only in
/// development.
/// </summary>
public sealed class SimulatedRoot : IDisposable
{
    public const string SubjectName = "CN=Enclave Simulated Root (INSECURE)";

    private SimulatedRoot(X509Certificate2 certificate)
    {
        Certificate = certificate;
    }

    public X509Certificate2 Certificate { get; }

    /// <summary>Loads the root from PEM text holding exactly the root certificate.</summary>
    /// <exception cref="InvalidDataException">The PEM is not a simulated root certificate.</exception>
    public static SimulatedRoot FromPem(string pem)
    {
        ArgumentNullException.ThrowIfNull(pem);
        X509Certificate2 certificate;
        try
        {
            certificate = X509Certificate2.CreateFromPem(pem);
        }
        catch (CryptographicException ex)
        {
            throw new InvalidDataException("simulated root: the PEM does not hold one X.509 certificate", ex);
        }

        return FromCertificateCore(certificate);
    }

    /// <summary>Loads the root from a PEM file such as <c>root.crt</c>.</summary>
    /// <exception cref="InvalidDataException">The file is not a simulated root certificate.</exception>
    public static SimulatedRoot LoadFile(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        return FromPem(File.ReadAllText(path));
    }

    /// <exception cref="InvalidDataException">The certificate is not a simulated root certificate.</exception>
    public static SimulatedRoot FromCertificate(X509Certificate2 certificate)
    {
        ArgumentNullException.ThrowIfNull(certificate);
        return FromCertificateCore(X509CertificateLoader.LoadCertificate(certificate.RawData));
    }

    public void Dispose() => Certificate.Dispose();

    private static SimulatedRoot FromCertificateCore(X509Certificate2 certificate)
    {
        try
        {
            Validate(certificate);
        }
        catch
        {
            certificate.Dispose();
            throw;
        }

        return new SimulatedRoot(certificate);
    }

    private static void Validate(X509Certificate2 certificate)
    {
        if (!string.Equals(certificate.Subject, SubjectName, StringComparison.Ordinal))
        {
            throw new InvalidDataException($"simulated root: subject is '{certificate.Subject}', expected '{SubjectName}'");
        }

        if (!certificate.SubjectName.RawData.AsSpan().SequenceEqual(certificate.IssuerName.RawData))
        {
            throw new InvalidDataException("simulated root: the certificate is not self-issued");
        }

        using (ECDsa? key = certificate.GetECDsaPublicKey())
        {
            if (key is null || !CertificateKeys.IsP256(key))
            {
                throw new InvalidDataException("simulated root: the key is not ECDSA P-256");
            }
        }

        X509BasicConstraintsExtension? constraints = certificate.Extensions.OfType<X509BasicConstraintsExtension>().FirstOrDefault();
        if (constraints is null || !constraints.CertificateAuthority)
        {
            throw new InvalidDataException("simulated root: the certificate is not a CA (basic constraints)");
        }

        if (!CertificateKeys.IsSelfSigned(certificate))
        {
            throw new InvalidDataException("simulated root: the self-signature does not verify");
        }
    }
}
