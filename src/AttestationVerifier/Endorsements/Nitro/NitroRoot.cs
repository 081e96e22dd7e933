// AWS Nitro Enclaves Root-G1 ("Verifying the root of trust", docs.aws.amazon.com/enclaves/latest/user/verify-root.html):
// self-signed, ECDSA P-384, CN=aws.nitro-enclaves, valid 2019-10-28..2049-10-28. Pinned by the SHA-256 of its DER.
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Enclave.AttestationVerifier.Endorsements.Nitro;

/// <summary>The embedded AWS Nitro Enclaves root certificate; the first certificate of every genuine cabundle.</summary>
public static class NitroRoot
{
    /// <summary>Lower-case hex SHA-256 of the root's DER.</summary>
    public const string DerSha256 = "641a0321a3e244efe456463195d606317ed7cdcc3c1756e09893f3c68f79bb5b";

    private const string Pem = """
        -----BEGIN CERTIFICATE-----
        MIICETCCAZagAwIBAgIRAPkxdWgbkK/hHUbMtOTn+FYwCgYIKoZIzj0EAwMwSTEL
        MAkGA1UEBhMCVVMxDzANBgNVBAoMBkFtYXpvbjEMMAoGA1UECwwDQVdTMRswGQYD
        VQQDDBJhd3Mubml0cm8tZW5jbGF2ZXMwHhcNMTkxMDI4MTMyODA1WhcNNDkxMDI4
        MTQyODA1WjBJMQswCQYDVQQGEwJVUzEPMA0GA1UECgwGQW1hem9uMQwwCgYDVQQL
        DANBV1MxGzAZBgNVBAMMEmF3cy5uaXRyby1lbmNsYXZlczB2MBAGByqGSM49AgEG
        BSuBBAAiA2IABPwCVOumCMHzaHDimtqQvkY4MpJzbolL//Zy2YlES1BR5TSksfbb
        48C8WBoyt7F2Bw7eEtaaP+ohG2bnUs990d0JX28TcPQXCEPZ3BABIeTPYwEoCWZE
        h8l5YoQwTcU/9KNCMEAwDwYDVR0TAQH/BAUwAwEB/zAdBgNVHQ4EFgQUkCW1DdkF
        R+eWw5b6cp3PmanfS5YwDgYDVR0PAQH/BAQDAgGGMAoGCCqGSM49BAMDA2kAMGYC
        MQCjfy+Rocm9Xue4YnwWmNJVA44fA0P5W2OpYow9OYCVRaEevL8uO1XYru5xtMPW
        rfMCMQCi85sWBbJwKKXdS6BptQFuZbT73o/gBh1qUxl/nNr12UO8Yfwr6wPLb+6N
        IwLz3/Y=
        -----END CERTIFICATE-----
        """;

    private static readonly Lazy<byte[]> s_der = new(LoadPinned);

    /// <summary>The root certificate's DER (a fresh copy).</summary>
    public static byte[] Der => (byte[])s_der.Value.Clone();

    /// <summary>True when <paramref name="der"/> is exactly the embedded root.</summary>
    public static bool IsRoot(ReadOnlySpan<byte> der) => der.SequenceEqual(s_der.Value);

    public static X509Certificate2 Load() => X509CertificateLoader.LoadCertificate(s_der.Value);

    private static byte[] LoadPinned()
    {
        using X509Certificate2 certificate = X509Certificate2.CreateFromPem(Pem);
        byte[] der = certificate.RawData;
        string digest = Convert.ToHexStringLower(SHA256.HashData(der));
        if (!string.Equals(digest, DerSha256, StringComparison.Ordinal))
        {
            throw new InvalidOperationException($"The embedded AWS Nitro root does not match its pinned SHA-256 ({digest}).");
        }

        return der;
    }
}
