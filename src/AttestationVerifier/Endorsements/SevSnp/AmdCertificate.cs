// AMD SEV-SNP endorsement certificates (AMD "Versioned Chip Endorsement Key (VCEK) Certificate and KDS Interface
// Specification", publication 57230). ARK, ASK and ASVK are RSA-4096 and every certificate in the chain is
// signed with RSASSA-PSS (SHA-384, MGF1 SHA-384, salt 48). VCEK and VLEK carry an ECDSA P-384 key and these
// extensions (OID prefix 1.3.6.1.4.1.3704.1):
//   .1 structVersion (INTEGER)   .2 productName (IA5String, e.g. "Milan-B0")
//   .3.1 blSPL  .3.2 teeSPL  .3.3 snpSPL  .3.4-.3.7 spl_4..spl_7  .3.8 ucodeSPL  .3.9 fmcSPL (Turin) (INTEGER)
//   .4 hwID (VCEK only: the 64-byte CHIP_ID, 8 bytes on Turin, stored as the raw extension value)
using System.Formats.Asn1;
using System.Numerics;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Enclave.AttestationVerifier.Endorsements.SevSnp;

/// <summary>An AMD endorsement certificate with the parts the SEV-SNP chain check needs, decoded once.</summary>
internal sealed class AmdCertificate
{
    public const string RsaPssOid = "1.2.840.113549.1.1.10";
    public const string Sha384Oid = "2.16.840.1.101.3.4.2.2";
    public const string AmdSnpOidPrefix = "1.3.6.1.4.1.3704.1.";
    public const string ProductNameOid = "1.3.6.1.4.1.3704.1.2";
    public const string BootLoaderSplOid = "1.3.6.1.4.1.3704.1.3.1";
    public const string TeeSplOid = "1.3.6.1.4.1.3704.1.3.2";
    public const string SnpSplOid = "1.3.6.1.4.1.3704.1.3.3";
    public const string MicrocodeSplOid = "1.3.6.1.4.1.3704.1.3.8";
    public const string FmcSplOid = "1.3.6.1.4.1.3704.1.3.9";
    public const string HwIdOid = "1.3.6.1.4.1.3704.1.4";

    public const string VcekCommonName = "SEV-VCEK";
    public const string VlekCommonName = "SEV-VLEK";

    private readonly byte[] _tbs;
    private readonly byte[] _signature;
    private readonly string _signatureAlgorithm;
    private readonly string? _pssHash;

    private AmdCertificate(X509Certificate2 certificate, byte[] tbs, string signatureAlgorithm, string? pssHash, byte[] signature)
    {
        Certificate = certificate;
        _tbs = tbs;
        _signatureAlgorithm = signatureAlgorithm;
        _pssHash = pssHash;
        _signature = signature;
        CommonName = certificate.GetNameInfo(X509NameType.SimpleName, forIssuer: false);
    }

    public X509Certificate2 Certificate { get; }

    public string CommonName { get; }

    public bool IsVcek => string.Equals(CommonName, VcekCommonName, StringComparison.Ordinal);

    public bool IsVlek => string.Equals(CommonName, VlekCommonName, StringComparison.Ordinal);

    public bool IsSelfIssued => Certificate.SubjectName.RawData.AsSpan().SequenceEqual(Certificate.IssuerName.RawData);

    public DateTimeOffset NotBefore => new(Certificate.NotBefore.ToUniversalTime());

    public DateTimeOffset NotAfter => new(Certificate.NotAfter.ToUniversalTime());

    /// <summary>Decodes the outer structure; null when the DER is not a certificate.</summary>
    public static AmdCertificate? TryCreate(X509Certificate2 certificate)
    {
        try
        {
            // Certificate ::= SEQUENCE { tbsCertificate, signatureAlgorithm AlgorithmIdentifier, signatureValue BIT STRING }
            AsnReader outer = new AsnReader(certificate.RawData, AsnEncodingRules.DER).ReadSequence();
            byte[] tbs = outer.ReadEncodedValue().ToArray();
            (string oid, string? pssHash) = ReadSignatureAlgorithm(outer.ReadSequence());
            byte[] signature = outer.ReadBitString(out int unusedBits);
            return unusedBits == 0 ? new AmdCertificate(certificate, tbs, oid, pssHash, signature) : null;
        }
        catch (AsnContentException)
        {
            return null;
        }
        catch (CryptographicException)
        {
            return null;
        }
    }

    /// <summary>The algorithm OID and, for RSASSA-PSS, the hash OID from its parameters.</summary>
    /// <exception cref="AsnContentException">The AlgorithmIdentifier is not well-formed.</exception>
    public static (string Oid, string? PssHash) ReadSignatureAlgorithm(AsnReader algorithm)
    {
        string oid = algorithm.ReadObjectIdentifier();
        string? pssHash = null;
        if (string.Equals(oid, RsaPssOid, StringComparison.Ordinal) && algorithm.HasData)
        {
            // RSASSA-PSS-params ::= SEQUENCE { hashAlgorithm [0] AlgorithmIdentifier, ... }
            AsnReader parameters = algorithm.ReadSequence();
            if (parameters.HasData && parameters.PeekTag().HasSameClassAndValue(new Asn1Tag(TagClass.ContextSpecific, 0)))
            {
                AsnReader hash = parameters.ReadSequence(new Asn1Tag(TagClass.ContextSpecific, 0)).ReadSequence();
                pssHash = hash.ReadObjectIdentifier();
            }
        }

        return (oid, pssHash);
    }

    /// <summary>True when <paramref name="issuer"/> names this certificate's issuer and its RSA key made the
    /// RSASSA-PSS SHA-384 signature over the TBS bytes.</summary>
    public bool IsSignedBy(X509Certificate2 issuer)
    {
        if (!Certificate.IssuerName.RawData.AsSpan().SequenceEqual(issuer.SubjectName.RawData)
            || !string.Equals(_signatureAlgorithm, RsaPssOid, StringComparison.Ordinal)
            || !string.Equals(_pssHash, Sha384Oid, StringComparison.Ordinal))
        {
            return false;
        }

        return VerifiedSignatureCache.Verify(Certificate.RawData, issuer.RawData, () =>
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

    /// <summary>The productName extension ("Milan-B0", "Genoa"), if present.</summary>
    public string? ProductName()
    {
        byte[]? value = ExtensionValue(ProductNameOid);
        if (value is null)
        {
            return null;
        }

        try
        {
            AsnReader reader = new(value, AsnEncodingRules.DER);
            string name = reader.ReadCharacterString(UniversalTagNumber.IA5String);
            return reader.HasData ? null : name;
        }
        catch (AsnContentException)
        {
            return null;
        }
    }

    /// <summary>An INTEGER extension such as an SPL (0..255), or null when absent or not a small integer.</summary>
    public int? IntegerExtension(string oid)
    {
        byte[]? value = ExtensionValue(oid);
        if (value is null)
        {
            return null;
        }

        try
        {
            AsnReader reader = new(value, AsnEncodingRules.DER);
            BigInteger integer = reader.ReadInteger();
            return !reader.HasData && integer >= 0 && integer <= int.MaxValue ? (int)integer : null;
        }
        catch (AsnContentException)
        {
            return null;
        }
    }

    /// <summary>The hwID extension (raw bytes; also accepted wrapped in an OCTET STRING), or null.</summary>
    public byte[]? HardwareId()
    {
        byte[]? value = ExtensionValue(HwIdOid);
        if (value is null || value.Length is 8 or 64)
        {
            return value;
        }

        try
        {
            AsnReader reader = new(value, AsnEncodingRules.DER);
            byte[] inner = reader.ReadOctetString();
            return !reader.HasData && inner.Length is 8 or 64 ? inner : null;
        }
        catch (AsnContentException)
        {
            return null;
        }
    }

    /// <summary>Every AMD SNP extension (OID suffix after 1.3.6.1.4.1.3704.1.) as lower-case hex of its value.</summary>
    public IEnumerable<(string Suffix, byte[] Value)> AmdExtensions()
    {
        foreach (X509Extension extension in Certificate.Extensions)
        {
            string? oid = extension.Oid?.Value;
            if (oid is not null && oid.StartsWith(AmdSnpOidPrefix, StringComparison.Ordinal))
            {
                yield return (oid[AmdSnpOidPrefix.Length..], extension.RawData);
            }
        }
    }

    private byte[]? ExtensionValue(string oid)
    {
        foreach (X509Extension extension in Certificate.Extensions)
        {
            if (string.Equals(extension.Oid?.Value, oid, StringComparison.Ordinal))
            {
                return extension.RawData;
            }
        }

        return null;
    }
}
