using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Enclave.AttestationVerifier.Endorsements;

/// <summary>
/// The identity a security team enrols: for simulated platforms, the lower-case hex SHA-256 of the platform
/// certificate's SubjectPublicKeyInfo DER (docs/formats.md section 1). 64 characters.
/// </summary>
public static class PlatformId
{
    public const int Length = 2 * SHA256.HashSizeInBytes;

    public static string Compute(X509Certificate2 certificate)
    {
        ArgumentNullException.ThrowIfNull(certificate);
        return Compute(certificate.PublicKey.ExportSubjectPublicKeyInfo());
    }

    public static string Compute(ReadOnlySpan<byte> subjectPublicKeyInfo) =>
        Convert.ToHexStringLower(SHA256.HashData(subjectPublicKeyInfo));

    /// <summary>True when <paramref name="value"/> has the shape of a platform id: 64 lower-case hex digits.</summary>
    public static bool IsWellFormed(string? value)
    {
        if (value is null || value.Length != Length)
        {
            return false;
        }

        foreach (char c in value)
        {
            if (!char.IsAsciiDigit(c) && c is not (>= 'a' and <= 'f'))
            {
                return false;
            }
        }

        return true;
    }
}
