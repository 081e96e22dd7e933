using System.Formats.Asn1;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Enclave.AttestationVerifier.Endorsements;

internal static class CertificateKeys
{
    private const string NistP256Oid = "1.2.840.10045.3.1.7";
    private const string EcdsaWithSha256Oid = "1.2.840.10045.4.3.2";

    public static bool IsP256(ECDsa key)
    {
        ECParameters parameters = key.ExportParameters(includePrivateParameters: false);
        return parameters.Curve.IsNamed && string.Equals(parameters.Curve.Oid.Value, NistP256Oid, StringComparison.Ordinal);
    }

    /// <summary>True when the certificate is signed with ECDSA-SHA256 by its own key.</summary>
    public static bool IsSelfSigned(X509Certificate2 certificate)
    {
        using ECDsa? key = certificate.GetECDsaPublicKey();
        if (key is null)
        {
            return false;
        }

        try
        {
            // Certificate ::= SEQUENCE { tbsCertificate, signatureAlgorithm, signatureValue BIT STRING }
            AsnReader reader = new(certificate.RawData, AsnEncodingRules.DER);
            AsnReader sequence = reader.ReadSequence();
            ReadOnlyMemory<byte> tbs = sequence.ReadEncodedValue();
            AsnReader algorithm = sequence.ReadSequence();
            string oid = algorithm.ReadObjectIdentifier();
            byte[] signature = sequence.ReadBitString(out int unusedBits);
            if (!string.Equals(oid, EcdsaWithSha256Oid, StringComparison.Ordinal) || unusedBits != 0)
            {
                return false;
            }

            return key.VerifyData(tbs.Span, signature, HashAlgorithmName.SHA256, DSASignatureFormat.Rfc3279DerSequence);
        }
        catch (AsnContentException)
        {
            return false;
        }
    }
}
