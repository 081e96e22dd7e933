// X.509 v2 CRL (RFC 5280 section 5) as Intel PCS publishes it for the SGX Root CA and the PCK Processor/Platform
// CAs: CertificateList ::= SEQUENCE { tbsCertList SEQUENCE { version INTEGER OPTIONAL, signature
// AlgorithmIdentifier, issuer Name, thisUpdate Time, nextUpdate Time OPTIONAL, revokedCertificates SEQUENCE OF
// SEQUENCE { userCertificate INTEGER, revocationDate Time, crlEntryExtensions OPTIONAL } OPTIONAL,
// crlExtensions [0] OPTIONAL }, signatureAlgorithm AlgorithmIdentifier, signatureValue BIT STRING }.
using System.Formats.Asn1;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Enclave.AttestationVerifier.Endorsements.Dcap;

/// <summary>A parsed CRL: issuer, validity, revoked serial numbers, and what its signature covers.</summary>
public sealed record DcapCrl(
    byte[] Der,
    X500DistinguishedName Issuer,
    DateTimeOffset ThisUpdate,
    DateTimeOffset? NextUpdate,
    IReadOnlySet<string> RevokedSerials,
    byte[] SignedBytes,
    string SignatureAlgorithm,
    byte[] Signature)
{
    public const int MaxCrlBytes = 1024 * 1024;

    /// <exception cref="DcapCollateralException">The bytes are not a DER CRL.</exception>
    public static DcapCrl Parse(byte[] der)
    {
        ArgumentNullException.ThrowIfNull(der);
        if (der.Length > MaxCrlBytes)
        {
            throw new DcapCollateralException($"CRL of {der.Length} bytes exceeds {MaxCrlBytes}");
        }

        try
        {
            AsnReader reader = new(der, AsnEncodingRules.DER);
            AsnReader outer = reader.ReadSequence();
            reader.ThrowIfNotEmpty();
            ReadOnlyMemory<byte> tbsBytes = outer.PeekEncodedValue();
            AsnReader tbs = outer.ReadSequence();
            AsnReader algorithm = outer.ReadSequence();
            string oid = algorithm.ReadObjectIdentifier();
            byte[] signature = outer.ReadBitString(out _);
            outer.ThrowIfNotEmpty();

            if (tbs.PeekTag().HasSameClassAndValue(Asn1Tag.Integer))
            {
                tbs.ReadInteger();
            }

            tbs.ReadSequence();
            var issuer = new X500DistinguishedName(tbs.ReadEncodedValue().Span);
            DateTimeOffset thisUpdate = ReadTime(tbs);
            DateTimeOffset? nextUpdate = null;
            if (tbs.HasData && IsTime(tbs.PeekTag()))
            {
                nextUpdate = ReadTime(tbs);
            }

            HashSet<string> revoked = new(StringComparer.Ordinal);
            if (tbs.HasData && tbs.PeekTag().HasSameClassAndValue(Asn1Tag.Sequence))
            {
                AsnReader entries = tbs.ReadSequence();
                while (entries.HasData)
                {
                    AsnReader entry = entries.ReadSequence();
                    revoked.Add(Convert.ToHexStringLower(entry.ReadIntegerBytes().Span));
                }
            }

            return new DcapCrl(der, issuer, thisUpdate, nextUpdate, revoked, tbsBytes.ToArray(), oid, signature);
        }
        catch (Exception ex) when (ex is AsnContentException or CryptographicException)
        {
            throw new DcapCollateralException($"CRL does not parse: {ex.Message}");
        }
    }

    /// <summary>Whether the certificate's serial number is listed.</summary>
    public bool Revokes(X509Certificate2 certificate) =>
        RevokedSerials.Contains(Convert.ToHexStringLower(certificate.SerialNumberBytes.Span));

    private static bool IsTime(Asn1Tag tag) => tag.HasSameClassAndValue(Asn1Tag.UtcTime) || tag.HasSameClassAndValue(Asn1Tag.GeneralizedTime);

    private static DateTimeOffset ReadTime(AsnReader reader) =>
        reader.PeekTag().HasSameClassAndValue(Asn1Tag.UtcTime) ? reader.ReadUtcTime() : reader.ReadGeneralizedTime();
}
