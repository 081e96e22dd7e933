using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Enclave.AttestationVerifier.Endorsements.Dcap;

/// <summary>
/// The genuine Intel SGX Root CA (certificates.trustedservices.intel.com/Intel_SGX_Provisioning_Certification_RootCA.pem),
/// the only trust anchor of SGX and TDX quotes. Pinned by the SHA-256 of its DER.
/// </summary>
public static class IntelSgxRoot
{
    /// <summary>SHA-256 of the root certificate's DER, lower-case hex.</summary>
    public const string DerSha256 = "44a0196b2b99f889b8e149e95b807a350e7424964399e885a7cbb8ccfab674d3";

    private const string Pem = """
        -----BEGIN CERTIFICATE-----
        MIICjzCCAjSgAwIBAgIUImUM1lqdNInzg7SVUr9QGzknBqwwCgYIKoZIzj0EAwIw
        aDEaMBgGA1UEAwwRSW50ZWwgU0dYIFJvb3QgQ0ExGjAYBgNVBAoMEUludGVsIENv
        cnBvcmF0aW9uMRQwEgYDVQQHDAtTYW50YSBDbGFyYTELMAkGA1UECAwCQ0ExCzAJ
        BgNVBAYTAlVTMB4XDTE4MDUyMTEwNDUxMFoXDTQ5MTIzMTIzNTk1OVowaDEaMBgG
        A1UEAwwRSW50ZWwgU0dYIFJvb3QgQ0ExGjAYBgNVBAoMEUludGVsIENvcnBvcmF0
        aW9uMRQwEgYDVQQHDAtTYW50YSBDbGFyYTELMAkGA1UECAwCQ0ExCzAJBgNVBAYT
        AlVTMFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEC6nEwMDIYZOj/iPWsCzaEKi7
        1OiOSLRFhWGjbnBVJfVnkY4u3IjkDYYL0MxO4mqsyYjlBalTVYxFP2sJBK5zlKOB
        uzCBuDAfBgNVHSMEGDAWgBQiZQzWWp00ifODtJVSv1AbOScGrDBSBgNVHR8ESzBJ
        MEegRaBDhkFodHRwczovL2NlcnRpZmljYXRlcy50cnVzdGVkc2VydmljZXMuaW50
        ZWwuY29tL0ludGVsU0dYUm9vdENBLmRlcjAdBgNVHQ4EFgQUImUM1lqdNInzg7SV
        Ur9QGzknBqwwDgYDVR0PAQH/BAQDAgEGMBIGA1UdEwEB/wQIMAYBAf8CAQEwCgYI
        KoZIzj0EAwIDSQAwRgIhAOW/5QkR+S9CiSDcNoowLuPRLsWGf/Yi7GSX94BgwTwg
        AiEA4J0lrHoMs+Xo5o/sX6O9QWxHRAvZUGOdRQ7cvqRXaqI=
        -----END CERTIFICATE-----
        """;

    private static readonly Lazy<byte[]> s_der = new(() =>
    {
        using X509Certificate2 certificate = X509Certificate2.CreateFromPem(Pem);
        byte[] der = certificate.RawData;
        string hash = Convert.ToHexStringLower(SHA256.HashData(der));
        return string.Equals(hash, DerSha256, StringComparison.Ordinal)
            ? der
            : throw new InvalidOperationException($"the embedded Intel SGX Root CA hashes to {hash}, not {DerSha256}");
    });

    /// <summary>A fresh copy of the root certificate (the caller disposes it).</summary>
    public static X509Certificate2 Load() => X509CertificateLoader.LoadCertificate(s_der.Value);
}
