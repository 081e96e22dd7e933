// Intel DCAP ECDSA quotes: SGX quote version 3 ("Intel SGX ECDSA Quote Library API", appendix "Quote Format")
// and TDX quote versions 4 and 5 ("Intel TDX DCAP Quoting Library API", appendix A.3/A.4). All integers are
// little-endian.
//
// Header (48 bytes): version u16 @0, attestation_key_type u16 @2 (2 = ECDSA-256-with-P-256), tee_type u32 @4
// (0 = SGX, 0x81 = TDX; reserved in v3), qe_svn u16 @8, pce_svn u16 @10, qe_vendor_id [16] @12, user_data [20] @28.
// Body: v3: SGX report body (384) @48. v4: TD 1.0 report body (584) @48. v5: body descriptor type u16 @48
// (1 = SGX, 2 = TD 1.0, 3 = TD 1.5), size u32 @50, body @54 (384, 584 or 648 bytes).
// The ECDSA signature covers every byte before quote_signature_data_len (header, v5 descriptor and body).
// quote_signature_data_len u32, then quote_signature_data:
//   signature [64] (r||s), attestation_key [64] (x||y);
//   v3: qe_report [384], qe_report_signature [64], qe_auth_data_len u16, qe_auth_data, certification_data_type u16,
//       certification_data_len u32, certification_data;
//   v4/v5: certification_data_type u16 (= 6), len u32, QE report certification data: qe_report [384],
//       qe_report_signature [64], qe_auth_data_len u16, qe_auth_data, certification_data_type u16 (1..5),
//       certification_data_len u32, certification_data.
// Certification data type 5 is the PCK certificate chain as PEM (possibly NUL-terminated); type 1 is
// PPID [16] || CPUSVN [16] || PCESVN u16 [|| PCEID u16] (the PCK certificate then comes out of band).
// Every length must fit in its container, and the signature data must be consumed exactly; bytes after the
// signature data are tolerated (quote buffers are often padded) and counted.
using System.Buffers.Binary;

namespace Enclave.AttestationVerifier.Evidence.Dcap;

/// <summary>Which report body a DCAP quote carries.</summary>
public enum DcapBodyType
{
    /// <summary>SGX enclave report body (384 bytes).</summary>
    Sgx = 1,

    /// <summary>TD 1.0 report body (584 bytes).</summary>
    Td10 = 2,

    /// <summary>TD 1.5 report body (648 bytes: TD 1.0 plus tee_tcb_svn2 and mr_servicetd).</summary>
    Td15 = 3,
}

/// <summary>An SGX report body (enclave REPORT): the application enclave in an SGX quote, or a QE report.</summary>
public sealed record SgxReportBody(
    byte[] CpuSvn,
    uint MiscSelect,
    byte[] IsvExtProdId,
    byte[] Attributes,
    byte[] MrEnclave,
    byte[] MrSigner,
    byte[] ConfigId,
    ushort IsvProdId,
    ushort IsvSvn,
    ushort ConfigSvn,
    byte[] IsvFamilyId,
    byte[] ReportData,
    byte[] Raw)
{
    public const int Size = 384;

    /// <summary>ATTRIBUTES.FLAGS bit 1: the enclave is debuggable.</summary>
    public bool Debug => (Attributes[0] & 0x02) != 0;

    internal static SgxReportBody Parse(ReadOnlySpan<byte> b) => new(
        b[..16].ToArray(),
        BinaryPrimitives.ReadUInt32LittleEndian(b[16..]),
        b[32..48].ToArray(),
        b[48..64].ToArray(),
        b[64..96].ToArray(),
        b[128..160].ToArray(),
        b[192..256].ToArray(),
        BinaryPrimitives.ReadUInt16LittleEndian(b[256..]),
        BinaryPrimitives.ReadUInt16LittleEndian(b[258..]),
        BinaryPrimitives.ReadUInt16LittleEndian(b[260..]),
        b[304..320].ToArray(),
        b[320..384].ToArray(),
        b[..Size].ToArray());
}

/// <summary>A TD report body as a TDX quote carries it (TD 1.0, or TD 1.5 with the two extra fields).</summary>
public sealed record TdReportBody(
    byte[] TeeTcbSvn,
    byte[] MrSeam,
    byte[] MrSignerSeam,
    byte[] SeamAttributes,
    byte[] TdAttributes,
    byte[] Xfam,
    byte[] MrTd,
    byte[] MrConfigId,
    byte[] MrOwner,
    byte[] MrOwnerConfig,
    byte[][] Rtmrs,
    byte[] ReportData,
    byte[]? TeeTcbSvn2,
    byte[]? MrServiceTd)
{
    public const int Td10Size = 584;
    public const int Td15Size = 648;

    /// <summary>TD_ATTRIBUTES bit 0: the TD is debuggable.</summary>
    public bool Debug => (TdAttributes[0] & 0x01) != 0;

    internal static TdReportBody Parse(ReadOnlySpan<byte> b, bool td15) => new(
        b[..16].ToArray(),
        b[16..64].ToArray(),
        b[64..112].ToArray(),
        b[112..120].ToArray(),
        b[120..128].ToArray(),
        b[128..136].ToArray(),
        b[136..184].ToArray(),
        b[184..232].ToArray(),
        b[232..280].ToArray(),
        b[280..328].ToArray(),
        [b[328..376].ToArray(), b[376..424].ToArray(), b[424..472].ToArray(), b[472..520].ToArray()],
        b[520..584].ToArray(),
        td15 ? b[584..600].ToArray() : null,
        td15 ? b[600..648].ToArray() : null);
}

/// <summary>
/// A parsed, unverified DCAP quote (SGX v3, TDX v4/v5). Nothing in it is trusted until the verifier has checked
/// the signatures and the PCK chain.
/// </summary>
public sealed record DcapQuote
{
    public const int HeaderSize = 48;
    public const int MaxQuoteBytes = 256 * 1024;
    public const uint TeeTypeSgx = 0;
    public const uint TeeTypeTdx = 0x81;
    public const ushort AttestationKeyTypeEcdsaP256 = 2;
    public const ushort CertificationDataPpidCleartext = 1;
    public const ushort CertificationDataPckChain = 5;
    public const ushort CertificationDataQeReport = 6;

    public required ushort Version { get; init; }
    public required ushort AttestationKeyType { get; init; }
    public required uint TeeType { get; init; }
    public required ushort QeSvn { get; init; }
    public required ushort PceSvn { get; init; }
    public required byte[] QeVendorId { get; init; }
    public required byte[] UserData { get; init; }
    public required DcapBodyType BodyType { get; init; }
    public SgxReportBody? SgxBody { get; init; }
    public TdReportBody? TdBody { get; init; }

    /// <summary>The bytes the attestation key signs (header, v5 body descriptor, body).</summary>
    public required byte[] SignedRegion { get; init; }
    public required byte[] Signature { get; init; }
    public required byte[] AttestationKey { get; init; }
    public required SgxReportBody QeReport { get; init; }
    public required byte[] QeReportSignature { get; init; }
    public required byte[] QeAuthData { get; init; }

    /// <summary>The certification data type right after the attestation key (6 in v4/v5, the PCK data type in v3).</summary>
    public required ushort OuterCertificationDataType { get; init; }

    /// <summary>The type of the certification data that identifies the PCK (5 = PEM chain, 1 = PPID...).</summary>
    public required ushort CertificationDataType { get; init; }
    public required byte[] CertificationData { get; init; }
    public required int TrailingBytes { get; init; }

    public bool IsTdx => TeeType == TeeTypeTdx;

    /// <summary>Parses a quote. Throws only <see cref="EvidenceFormatException"/>.</summary>
    /// <exception cref="EvidenceFormatException">The bytes are not a well-formed SGX v3 or TDX v4/v5 quote.</exception>
    public static DcapQuote Parse(ReadOnlySpan<byte> quote)
    {
        var r = new Reader(quote, EvidenceFormat.Sgx);
        if (quote.Length > MaxQuoteBytes)
        {
            throw r.Error(EvidenceFormatError.TooLarge, "quote", $"{quote.Length} bytes; the limit is {MaxQuoteBytes}");
        }

        ReadOnlySpan<byte> header = r.Take(HeaderSize, "header");
        ushort version = BinaryPrimitives.ReadUInt16LittleEndian(header);
        ushort keyType = BinaryPrimitives.ReadUInt16LittleEndian(header[2..]);
        uint teeType = BinaryPrimitives.ReadUInt32LittleEndian(header[4..]);
        r.Format = teeType == TeeTypeTdx ? EvidenceFormat.Tdx : EvidenceFormat.Sgx;
        if (teeType is not (TeeTypeSgx or TeeTypeTdx))
        {
            throw new EvidenceFormatException(r.Format, EvidenceFormatError.UnsupportedVersion, "header.tee_type", 4, $"tee type 0x{teeType:x} is neither SGX (0) nor TDX (0x81)");
        }

        if (version is not (3 or 4 or 5))
        {
            throw new EvidenceFormatException(r.Format, EvidenceFormatError.UnsupportedVersion, "header.version", 0, $"version {version} is not 3, 4 or 5");
        }

        if (version == 3 && teeType != TeeTypeSgx)
        {
            throw new EvidenceFormatException(r.Format, EvidenceFormatError.UnsupportedVersion, "header.version", 0, "a version 3 quote must be an SGX quote");
        }

        if (keyType != AttestationKeyTypeEcdsaP256)
        {
            throw new EvidenceFormatException(r.Format, EvidenceFormatError.UnsupportedVersion, "header.attestation_key_type", 2, $"attestation key type {keyType} is not ECDSA-256-with-P-256 (2)");
        }

        DcapBodyType bodyType;
        int bodySize;
        if (version == 5)
        {
            int descriptorOffset = r.Offset;
            ushort type = r.U16("body_descriptor.type");
            uint size = r.U32("body_descriptor.size");
            (bodyType, bodySize) = type switch
            {
                1 => (DcapBodyType.Sgx, SgxReportBody.Size),
                2 => (DcapBodyType.Td10, TdReportBody.Td10Size),
                3 => (DcapBodyType.Td15, TdReportBody.Td15Size),
                _ => throw new EvidenceFormatException(r.Format, EvidenceFormatError.UnsupportedVersion, "body_descriptor.type", descriptorOffset, $"body type {type} is not 1, 2 or 3"),
            };
            if (size != bodySize)
            {
                throw new EvidenceFormatException(r.Format, EvidenceFormatError.LengthOutOfRange, "body_descriptor.size", descriptorOffset + 2, $"size {size} does not match body type {type} ({bodySize})");
            }
        }
        else
        {
            bodyType = teeType == TeeTypeTdx ? DcapBodyType.Td10 : DcapBodyType.Sgx;
            bodySize = bodyType == DcapBodyType.Sgx ? SgxReportBody.Size : TdReportBody.Td10Size;
        }

        if ((bodyType == DcapBodyType.Sgx) != (teeType == TeeTypeSgx))
        {
            throw new EvidenceFormatException(r.Format, EvidenceFormatError.UnsupportedVersion, "body_descriptor.type", HeaderSize, "the body type does not match the tee type");
        }

        ReadOnlySpan<byte> body = r.Take(bodySize, "body");
        byte[] signedRegion = quote[..r.Offset].ToArray();

        uint signatureDataLength = r.U32("signature_data_len");
        int signatureDataOffset = r.Offset;
        if (signatureDataLength > (uint)r.Remaining)
        {
            throw r.Error(EvidenceFormatError.LengthOutOfRange, "signature_data_len", $"{signatureDataLength} bytes declared, {r.Remaining} present", signatureDataOffset - 4);
        }

        var s = new Reader(quote[..(signatureDataOffset + (int)signatureDataLength)], r.Format) { Offset = signatureDataOffset };
        byte[] signature = s.Take(64, "signature").ToArray();
        byte[] attestationKey = s.Take(64, "attestation_key").ToArray();

        ushort outerType;
        ushort certType;
        byte[] certData;
        SgxReportBody qeReport;
        byte[] qeReportSignature;
        byte[] qeAuthData;
        if (version == 3)
        {
            (qeReport, qeReportSignature, qeAuthData, certType, certData) = ReadQeReportAndCertification(ref s);
            outerType = certType;
        }
        else
        {
            int typeOffset = s.Offset;
            outerType = s.U16("certification_data_type");
            if (outerType != CertificationDataQeReport)
            {
                throw new EvidenceFormatException(r.Format, EvidenceFormatError.UnsupportedVersion, "certification_data_type", typeOffset, $"type {outerType} is not QE report certification data (6)");
            }

            int lengthOffset = s.Offset;
            uint outerLength = s.U32("certification_data_len");
            if (outerLength != (uint)s.Remaining)
            {
                throw new EvidenceFormatException(r.Format, EvidenceFormatError.LengthOutOfRange, "certification_data_len", lengthOffset, $"{outerLength} bytes declared, {s.Remaining} left in the signature data");
            }

            (qeReport, qeReportSignature, qeAuthData, certType, certData) = ReadQeReportAndCertification(ref s);
        }

        if (s.Remaining != 0)
        {
            throw new EvidenceFormatException(r.Format, EvidenceFormatError.LengthOutOfRange, "signature_data_len", signatureDataOffset - 4, $"{s.Remaining} bytes of the declared signature data are not used");
        }

        return new DcapQuote
        {
            Version = version,
            AttestationKeyType = keyType,
            TeeType = teeType,
            QeSvn = BinaryPrimitives.ReadUInt16LittleEndian(header[8..]),
            PceSvn = BinaryPrimitives.ReadUInt16LittleEndian(header[10..]),
            QeVendorId = header[12..28].ToArray(),
            UserData = header[28..48].ToArray(),
            BodyType = bodyType,
            SgxBody = bodyType == DcapBodyType.Sgx ? SgxReportBody.Parse(body) : null,
            TdBody = bodyType == DcapBodyType.Sgx ? null : TdReportBody.Parse(body, bodyType == DcapBodyType.Td15),
            SignedRegion = signedRegion,
            Signature = signature,
            AttestationKey = attestationKey,
            QeReport = qeReport,
            QeReportSignature = qeReportSignature,
            QeAuthData = qeAuthData,
            OuterCertificationDataType = outerType,
            CertificationDataType = certType,
            CertificationData = certData,
            TrailingBytes = quote.Length - signatureDataOffset - (int)signatureDataLength,
        };
    }

    /// <summary>Whether the bytes start like a quote of this family (version 3..5, ECDSA P-256 key, tee type).</summary>
    public static bool LooksLike(ReadOnlySpan<byte> evidence, uint teeType)
    {
        if (evidence.Length < HeaderSize)
        {
            return false;
        }

        ushort version = BinaryPrimitives.ReadUInt16LittleEndian(evidence);
        return version is 3 or 4 or 5
            && BinaryPrimitives.ReadUInt16LittleEndian(evidence[2..]) == AttestationKeyTypeEcdsaP256
            && BinaryPrimitives.ReadUInt32LittleEndian(evidence[4..]) == teeType;
    }

    private static (SgxReportBody, byte[], byte[], ushort, byte[]) ReadQeReportAndCertification(ref Reader s)
    {
        SgxReportBody qeReport = SgxReportBody.Parse(s.Take(SgxReportBody.Size, "qe_report"));
        byte[] qeReportSignature = s.Take(64, "qe_report_signature").ToArray();
        ushort authLength = s.U16("qe_auth_data_len");
        byte[] authData = s.Take(authLength, "qe_auth_data").ToArray();
        int typeOffset = s.Offset;
        ushort type = s.U16("certification_data_type");
        if (type is 0 or CertificationDataQeReport or > 7)
        {
            throw new EvidenceFormatException(s.Format, EvidenceFormatError.UnsupportedVersion, "certification_data_type", typeOffset, $"certification data type {type} is not 1..5 or 7");
        }

        int lengthOffset = s.Offset;
        uint length = s.U32("certification_data_len");
        if (length != (uint)s.Remaining)
        {
            throw new EvidenceFormatException(s.Format, EvidenceFormatError.LengthOutOfRange, "certification_data_len", lengthOffset, $"{length} bytes declared, {s.Remaining} left in the enclosing data");
        }

        byte[] data = s.Take((int)length, "certification_data").ToArray();
        if (type == CertificationDataPpidCleartext && data.Length < 16)
        {
            throw new EvidenceFormatException(s.Format, EvidenceFormatError.LengthOutOfRange, "certification_data", lengthOffset + 4, $"PPID certification data is {data.Length} bytes, shorter than the 16-byte PPID");
        }

        return (qeReport, qeReportSignature, authData, type, data);
    }

    private ref struct Reader(ReadOnlySpan<byte> bytes, EvidenceFormat format)
    {
        private readonly ReadOnlySpan<byte> _bytes = bytes;

        public EvidenceFormat Format { get; set; } = format;

        public int Offset { get; set; }

        public readonly int Remaining => _bytes.Length - Offset;

        public ReadOnlySpan<byte> Take(int count, string field)
        {
            if (count > Remaining)
            {
                throw Error(EvidenceFormatError.Truncated, field, $"{count} bytes needed, {Remaining} left");
            }

            ReadOnlySpan<byte> slice = _bytes.Slice(Offset, count);
            Offset += count;
            return slice;
        }

        public ushort U16(string field) => BinaryPrimitives.ReadUInt16LittleEndian(Take(2, field));

        public uint U32(string field) => BinaryPrimitives.ReadUInt32LittleEndian(Take(4, field));

        public readonly EvidenceFormatException Error(EvidenceFormatError code, string field, string detail, int? offset = null) =>
            new(Format, code, field, offset ?? Offset, detail);
    }
}
