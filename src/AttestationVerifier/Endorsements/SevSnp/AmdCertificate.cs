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

/// <summary>An AMD endorsement certificate with the parts the SEV-SNP checks need, decoded once (the chain itself
/// is built and its RSASSA-PSS signatures checked by <see cref="CertificateChain"/>).</summary>
internal sealed class AmdCertificate
{
    public const string ProductNameOid = "1.3.6.1.4.1.3704.1.2";
    public const string BootLoaderSplOid = "1.3.6.1.4.1.3704.1.3.1";
    public const string TeeSplOid = "1.3.6.1.4.1.3704.1.3.2";
    public const string SnpSplOid = "1.3.6.1.4.1.3704.1.3.3";
    public const string MicrocodeSplOid = "1.3.6.1.4.1.3704.1.3.8";
    public const string FmcSplOid = "1.3.6.1.4.1.3704.1.3.9";
    public const string HwIdOid = "1.3.6.1.4.1.3704.1.4";

    public const string VcekCommonName = "SEV-VCEK";
    public const string VlekCommonName = "SEV-VLEK";

    private readonly Dictionary<string, byte[]> _extensions = new(StringComparer.Ordinal);
    private string? _sha256;

    public AmdCertificate(X509Certificate2 certificate)
    {
        ArgumentNullException.ThrowIfNull(certificate);
        Certificate = certificate;
        CommonName = certificate.GetNameInfo(X509NameType.SimpleName, forIssuer: false);
        IssuerCommonName = certificate.GetNameInfo(X509NameType.SimpleName, forIssuer: true);
        NotBefore = new DateTimeOffset(certificate.NotBefore.ToUniversalTime());
        NotAfter = new DateTimeOffset(certificate.NotAfter.ToUniversalTime());
        foreach (X509Extension extension in certificate.Extensions)
        {
            if (extension.Oid?.Value is { } oid)
            {
                _extensions.TryAdd(oid, extension.RawData);
            }
        }
    }

    public X509Certificate2 Certificate { get; }

    public string CommonName { get; }

    /// <summary>The common name of the issuer the certificate names ("SEV-Milan", "SEV-VLEK-Genoa").</summary>
    public string IssuerCommonName { get; }

    public bool IsVcek => string.Equals(CommonName, VcekCommonName, StringComparison.Ordinal);

    public bool IsVlek => string.Equals(CommonName, VlekCommonName, StringComparison.Ordinal);

    public bool IsSelfIssued => Certificate.SubjectName.RawData.AsSpan().SequenceEqual(Certificate.IssuerName.RawData);

    public DateTimeOffset NotBefore { get; }

    public DateTimeOffset NotAfter { get; }

    /// <summary>SHA-256 of the DER, lower-case hex.</summary>
    public string Sha256 => _sha256 ??= Convert.ToHexStringLower(SHA256.HashData(Certificate.RawDataMemory.Span));

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

    private byte[]? ExtensionValue(string oid) => _extensions.GetValueOrDefault(oid);
}
