// An AMD KDS certificate revocation list (kdsintf.amd.com/vcek/v1/<product>/crl, .../vlek/v1/<product>/crl):
// an RFC 5280 CertificateList signed by the product's ARK with RSASSA-PSS SHA-384, listing revoked ASK/ASVK
// serial numbers.
//   CertificateList ::= SEQUENCE { tbsCertList, signatureAlgorithm AlgorithmIdentifier, signatureValue BIT STRING }
//   TBSCertList ::= SEQUENCE { version INTEGER OPTIONAL, signature AlgorithmIdentifier, issuer Name,
//       thisUpdate Time, nextUpdate Time OPTIONAL,
//       revokedCertificates SEQUENCE OF SEQUENCE { userCertificate INTEGER, revocationDate Time, ... } OPTIONAL,
//       crlExtensions [0] EXPLICIT Extensions OPTIONAL }
using System.Formats.Asn1;
using System.Numerics;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Enclave.AttestationVerifier.Endorsements.SevSnp;

/// <summary>A decoded AMD CRL. Bounded: at most <see cref="MaxEntries"/> revoked serials.</summary>
internal sealed class AmdCrl
{
    public const int MaxEntries = 100_000;

    private readonly byte[] _tbs;
    private readonly byte[] _signature;
    private readonly string _signatureAlgorithm;
    private readonly string? _pssHash;

    private AmdCrl(byte[] tbs, string signatureAlgorithm, string? pssHash, byte[] signature, byte[] issuer,
        DateTimeOffset thisUpdate, DateTimeOffset? nextUpdate, HashSet<BigInteger> revoked)
    {
        _tbs = tbs;
        _signatureAlgorithm = signatureAlgorithm;
        _pssHash = pssHash;
        _signature = signature;
        Issuer = issuer;
        ThisUpdate = thisUpdate;
        NextUpdate = nextUpdate;
        Revoked = revoked;
    }

    /// <summary>The issuer Name as DER.</summary>
    public byte[] Issuer { get; }

    public DateTimeOffset ThisUpdate { get; }

    public DateTimeOffset? NextUpdate { get; }

    public IReadOnlySet<BigInteger> Revoked { get; }

    /// <summary>Decodes a CRL; null when the DER is not one.</summary>
    public static AmdCrl? TryParse(byte[] der)
    {
        try
        {
            AsnReader outer = new AsnReader(der, AsnEncodingRules.DER).ReadSequence();
            byte[] tbsBytes = outer.ReadEncodedValue().ToArray();
            (string algorithm, string? pssHash) = CertificateChain.ReadSignatureAlgorithm(outer.ReadSequence());
            byte[] signature = outer.ReadBitString(out int unused);
            if (unused != 0 || outer.HasData)
            {
                return null;
            }

            AsnReader tbs = new AsnReader(tbsBytes, AsnEncodingRules.DER).ReadSequence();
            if (tbs.PeekTag().HasSameClassAndValue(Asn1Tag.Integer))
            {
                tbs.ReadInteger();
            }

            tbs.ReadSequence();
            byte[] issuer = tbs.ReadEncodedValue().ToArray();
            DateTimeOffset thisUpdate = ReadTime(tbs);
            DateTimeOffset? nextUpdate = null;
            if (tbs.HasData && IsTime(tbs.PeekTag()))
            {
                nextUpdate = ReadTime(tbs);
            }

            HashSet<BigInteger> revoked = [];
            if (tbs.HasData && tbs.PeekTag().HasSameClassAndValue(Asn1Tag.Sequence))
            {
                AsnReader entries = tbs.ReadSequence();
                while (entries.HasData)
                {
                    if (revoked.Count == MaxEntries)
                    {
                        return null;
                    }

                    AsnReader entry = entries.ReadSequence();
                    revoked.Add(entry.ReadInteger());
                }
            }

            return new AmdCrl(tbsBytes, algorithm, pssHash, signature, issuer, thisUpdate, nextUpdate, revoked);
        }
        catch (AsnContentException)
        {
            return null;
        }
    }

    /// <summary>True when <paramref name="issuer"/> is named as the CRL issuer and made its RSASSA-PSS SHA-384 signature
    /// (remembered once it verifies: the CRL is kept parsed per endorsement set).</summary>
    public bool IsSignedBy(X509Certificate2 issuer)
    {
        if (!Issuer.AsSpan().SequenceEqual(issuer.SubjectName.RawData)
            || !string.Equals(_signatureAlgorithm, CertificateChain.RsaPssOid, StringComparison.Ordinal)
            || !string.Equals(_pssHash, CertificateChain.Sha384Oid, StringComparison.Ordinal))
        {
            return false;
        }

        return VerifiedSignatureCache.Verify(this, issuer, _tbs, _signature, () =>
        {
            try
            {
                using RSA? key = issuer.GetRSAPublicKey();
                return key is not null && key.VerifyData(_tbs, _signature, HashAlgorithmName.SHA384, RSASignaturePadding.Pss);
            }
            catch (CryptographicException)
            {
                return false;
            }
        });
    }

    public bool Lists(X509Certificate2 certificate) =>
        Revoked.Contains(new BigInteger(certificate.SerialNumberBytes.Span, isUnsigned: false, isBigEndian: true));

    private static bool IsTime(Asn1Tag tag) =>
        tag.HasSameClassAndValue(Asn1Tag.UtcTime) || tag.HasSameClassAndValue(Asn1Tag.GeneralizedTime);

    private static DateTimeOffset ReadTime(AsnReader reader) =>
        reader.PeekTag().HasSameClassAndValue(Asn1Tag.UtcTime) ? reader.ReadUtcTime() : reader.ReadGeneralizedTime();
}
