// X.509 certificate signature checks (RFC 5280 section 4.1): Certificate ::= SEQUENCE { tbsCertificate,
// signatureAlgorithm AlgorithmIdentifier, signatureValue BIT STRING }. ECDSA with SHA-256/384/512 (RFC 5758
// section 3.2, signature a DER Ecdsa-Sig-Value) and RSA PKCS#1 v1.5 with SHA-256/384/512 (RFC 4055).
using System.Formats.Asn1;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Enclave.AttestationVerifier.Endorsements;

/// <summary>Checks that one certificate was issued (name and signature) by another.</summary>
internal static class CertificateSignature
{
    private const string BasicConstraintsOid = "2.5.29.19";

    /// <summary>True when <paramref name="subject"/> names <paramref name="issuer"/> as issuer and its signature verifies
    /// with the issuer's key.</summary>
    public static bool IsIssuedBy(X509Certificate2 subject, X509Certificate2 issuer)
    {
        if (!subject.IssuerName.RawData.AsSpan().SequenceEqual(issuer.SubjectName.RawData))
        {
            return false;
        }

        return VerifiedSignatureCache.Verify(subject.RawData, issuer.RawData, () => SignatureVerifies(subject, issuer));
    }

    private static bool SignatureVerifies(X509Certificate2 subject, X509Certificate2 issuer)
    {

        ReadOnlyMemory<byte> tbs;
        string oid;
        byte[] signature;
        try
        {
            AsnReader reader = new(subject.RawData, AsnEncodingRules.DER);
            AsnReader sequence = reader.ReadSequence();
            tbs = sequence.ReadEncodedValue();
            AsnReader algorithm = sequence.ReadSequence();
            oid = algorithm.ReadObjectIdentifier();
            signature = sequence.ReadBitString(out int unusedBits);
            if (unusedBits != 0)
            {
                return false;
            }
        }
        catch (AsnContentException)
        {
            return false;
        }

        try
        {
            switch (oid)
            {
                case "1.2.840.10045.4.3.2":
                case "1.2.840.10045.4.3.3":
                case "1.2.840.10045.4.3.4":
                    using (ECDsa? ecdsa = issuer.GetECDsaPublicKey())
                    {
                        return ecdsa is not null
                            && ecdsa.VerifyData(tbs.Span, signature, EcdsaHash(oid), DSASignatureFormat.Rfc3279DerSequence);
                    }

                case "1.2.840.113549.1.1.11":
                case "1.2.840.113549.1.1.12":
                case "1.2.840.113549.1.1.13":
                    using (RSA? rsa = issuer.GetRSAPublicKey())
                    {
                        return rsa is not null
                            && rsa.VerifyData(tbs.Span, signature, RsaHash(oid), RSASignaturePadding.Pkcs1);
                    }

                default:
                    return false;
            }
        }
        catch (CryptographicException)
        {
            return false;
        }
    }

    /// <summary>True when the certificate has basicConstraints with cA = TRUE.</summary>
    public static bool IsCertificateAuthority(X509Certificate2 certificate)
    {
        foreach (X509Extension extension in certificate.Extensions)
        {
            if (string.Equals(extension.Oid?.Value, BasicConstraintsOid, StringComparison.Ordinal))
            {
                return new X509BasicConstraintsExtension(extension, extension.Critical).CertificateAuthority;
            }
        }

        return false;
    }

    /// <summary>True when <paramref name="at"/> lies within [notBefore, notAfter] (both inclusive).</summary>
    public static bool IsValidAt(X509Certificate2 certificate, DateTimeOffset at) =>
        at >= new DateTimeOffset(certificate.NotBefore.ToUniversalTime()) && at <= new DateTimeOffset(certificate.NotAfter.ToUniversalTime());

    public static string DescribeValidity(X509Certificate2 certificate) =>
        $"{certificate.NotBefore.ToUniversalTime():yyyy-MM-ddTHH:mm:ssZ}..{certificate.NotAfter.ToUniversalTime():yyyy-MM-ddTHH:mm:ssZ}";

    private static HashAlgorithmName EcdsaHash(string oid) => oid switch
    {
        "1.2.840.10045.4.3.2" => HashAlgorithmName.SHA256,
        "1.2.840.10045.4.3.3" => HashAlgorithmName.SHA384,
        _ => HashAlgorithmName.SHA512,
    };

    private static HashAlgorithmName RsaHash(string oid) => oid switch
    {
        "1.2.840.113549.1.1.11" => HashAlgorithmName.SHA256,
        "1.2.840.113549.1.1.12" => HashAlgorithmName.SHA384,
        _ => HashAlgorithmName.SHA512,
    };
}
