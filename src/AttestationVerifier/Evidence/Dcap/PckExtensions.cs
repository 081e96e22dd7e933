// The Intel SGX extensions of a PCK certificate ("Intel SGX PCK Certificate and Certificate Revocation List
// Profile Specification", section "Intel SGX Extensions"): extension 1.2.840.113741.1.13.1 holds
// SEQUENCE OF SEQUENCE { OID, value }:
//   .1 PPID OCTET STRING (16); .2 TCB SEQUENCE { .2.1..16 SGX TCB component SVNs INTEGER, .2.17 PCESVN INTEGER,
//   .2.18 CPUSVN OCTET STRING (16) }; .3 PCE-ID OCTET STRING (2); .4 FMSPC OCTET STRING (6);
//   .5 SGX type ENUMERATED (0 standard, 1 scalable, 2 scalable with integrity); .6 platform instance id and
//   .7 configuration (platform CA certificates only; read but not required).
using System.Formats.Asn1;
using System.Numerics;
using System.Security.Cryptography.X509Certificates;

namespace Enclave.AttestationVerifier.Evidence.Dcap;

/// <summary>The SGX values a PCK certificate certifies.</summary>
public sealed record PckExtensions(
    byte[] Ppid,
    int[] CompSvns,
    int PceSvn,
    byte[] CpuSvn,
    byte[] PceId,
    byte[] Fmspc,
    int SgxType,
    byte[]? PlatformInstanceId)
{
    public const string ExtensionOid = "1.2.840.113741.1.13.1";
    private const string Prefix = ExtensionOid + ".";
    private const int MaxExtensionBytes = 4096;

    /// <summary>The SGX extension of the certificate, or null when it has none.</summary>
    /// <exception cref="EvidenceFormatException">The extension is present but malformed.</exception>
    public static PckExtensions? FromCertificate(X509Certificate2 certificate)
    {
        ArgumentNullException.ThrowIfNull(certificate);
        foreach (X509Extension extension in certificate.Extensions)
        {
            if (string.Equals(extension.Oid?.Value, ExtensionOid, StringComparison.Ordinal))
            {
                return Parse(extension.RawData);
            }
        }

        return null;
    }

    /// <summary>Parses the extension value (the DER inside the extnValue OCTET STRING).</summary>
    /// <exception cref="EvidenceFormatException">The value is not the profile's SEQUENCE.</exception>
    public static PckExtensions Parse(ReadOnlySpan<byte> der)
    {
        if (der.Length > MaxExtensionBytes)
        {
            throw Error("extension", $"{der.Length} bytes; the limit is {MaxExtensionBytes}");
        }

        try
        {
            byte[]? ppid = null, cpuSvn = null, pceId = null, fmspc = null, instance = null;
            int[]? comps = null;
            int pceSvn = -1, sgxType = -1;
            AsnReader outer = new AsnReader(der.ToArray(), AsnEncodingRules.DER).ReadSequence();
            while (outer.HasData)
            {
                AsnReader item = outer.ReadSequence();
                string oid = item.ReadObjectIdentifier();
                switch (oid)
                {
                    case Prefix + "1":
                        ppid = Octets(item, 16, "ppid");
                        break;
                    case Prefix + "2":
                        (comps, pceSvn, cpuSvn) = ReadTcb(item.ReadSequence());
                        break;
                    case Prefix + "3":
                        pceId = Octets(item, 2, "pce_id");
                        break;
                    case Prefix + "4":
                        fmspc = Octets(item, 6, "fmspc");
                        break;
                    case Prefix + "5":
                        sgxType = SmallInt(item.ReadEnumeratedBytes(), "sgx_type");
                        break;
                    case Prefix + "6":
                        instance = item.ReadOctetString();
                        break;
                    default:
                        item.ReadEncodedValue();
                        break;
                }
            }

            return new PckExtensions(
                ppid ?? throw Error("ppid", "missing"),
                comps ?? throw Error("tcb", "missing"),
                pceSvn,
                cpuSvn!,
                pceId ?? throw Error("pce_id", "missing"),
                fmspc ?? throw Error("fmspc", "missing"),
                sgxType < 0 ? throw Error("sgx_type", "missing") : sgxType,
                instance);
        }
        catch (AsnContentException ex)
        {
            throw Error("extension", ex.Message);
        }
    }

    private static (int[] Comps, int PceSvn, byte[] CpuSvn) ReadTcb(AsnReader tcb)
    {
        var comps = new int[16];
        var seen = new bool[18];
        byte[]? cpuSvn = null;
        int pceSvn = -1;
        while (tcb.HasData)
        {
            AsnReader item = tcb.ReadSequence();
            string oid = item.ReadObjectIdentifier();
            if (!oid.StartsWith(Prefix + "2.", StringComparison.Ordinal) || !int.TryParse(oid.AsSpan(Prefix.Length + 2), out int index) || index is < 1 or > 18)
            {
                item.ReadEncodedValue();
                continue;
            }

            seen[index - 1] = true;
            if (index <= 16)
            {
                comps[index - 1] = SmallInt(item.ReadInteger(), $"tcb.comp{index:00}svn");
            }
            else if (index == 17)
            {
                pceSvn = SmallInt(item.ReadInteger(), "tcb.pcesvn");
            }
            else
            {
                cpuSvn = Octets(item, 16, "tcb.cpusvn");
            }
        }

        if (Array.IndexOf(seen, false) is int missing and >= 0)
        {
            throw Error("tcb", $"component {missing + 1} is missing");
        }

        return (comps, pceSvn, cpuSvn!);
    }

    private static byte[] Octets(AsnReader reader, int length, string field)
    {
        byte[] value = reader.ReadOctetString();
        return value.Length == length ? value : throw Error(field, $"{value.Length} bytes, expected {length}");
    }

    private static int SmallInt(BigInteger value, string field) =>
        value >= 0 && value <= 65535 ? (int)value : throw Error(field, $"value {value} is outside 0..65535");

    private static int SmallInt(ReadOnlyMemory<byte> enumerated, string field) =>
        SmallInt(new BigInteger(enumerated.Span, isUnsigned: false, isBigEndian: true), field);

    private static EvidenceFormatException Error(string field, string detail) =>
        new(EvidenceFormat.Sgx, EvidenceFormatError.LengthOutOfRange, "pck." + field, 0, detail);
}
