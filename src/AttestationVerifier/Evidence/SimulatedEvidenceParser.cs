// Simulated evidence ENCSIMQ1, version 1 (docs/formats.md section 1). Little-endian.
//   0  magic "ENCSIMQ1" (8)    8  version (2)     10  flags (2)     12  product id (2)   14  SVN (2)
//  16  measurement (32)       48  signer (32)    80  report data (64)
// 144  L (4), 1 <= L <= 8192  148  platform certificate (L)     148+L  signature (64)
// Total 212 + L bytes; the signature covers [0, 148 + L).
using System.Buffers.Binary;

namespace Enclave.AttestationVerifier.Evidence;

/// <summary>Parses simulated evidence bytes into an <see cref="UnverifiedSimulatedEvidence"/>.</summary>
public static class SimulatedEvidenceParser
{
    public const int MagicLength = 8;
    public const ushort SupportedVersion = 1;
    public const ushort DebugFlag = 0x0001;
    public const int MeasurementLength = 32;
    public const int SignerLength = 32;
    public const int ReportDataLength = 64;
    public const int SignatureLength = 64;
    public const int MaxCertificateLength = 8192;

    /// <summary>Offset of the platform certificate, and length of the fixed header before it.</summary>
    public const int HeaderLength = 148;

    /// <summary>Length of everything except the certificate: header plus signature.</summary>
    public const int FixedLength = HeaderLength + SignatureLength;

    public const int MaxEvidenceLength = FixedLength + MaxCertificateLength;

    public const int VersionOffset = 8;
    public const int FlagsOffset = 10;
    public const int ProductIdOffset = 12;
    public const int SvnOffset = 14;
    public const int MeasurementOffset = 16;
    public const int SignerOffset = 48;
    public const int ReportDataOffset = 80;
    public const int CertificateLengthOffset = 144;

    private const ushort ReservedFlagsMask = unchecked((ushort)~DebugFlag);

    private static ReadOnlySpan<byte> Magic => "ENCSIMQ1"u8;

    private static readonly (string Name, int Offset)[] s_headerFields =
    [
        ("magic", 0),
        ("version", VersionOffset),
        ("flags", FlagsOffset),
        ("product id", ProductIdOffset),
        ("svn", SvnOffset),
        ("measurement", MeasurementOffset),
        ("signer", SignerOffset),
        ("report data", ReportDataOffset),
        ("platform certificate length", CertificateLengthOffset),
    ];

    /// <exception cref="EvidenceFormatException">The bytes are not well-formed simulated evidence.</exception>
    public static UnverifiedSimulatedEvidence Parse(ReadOnlySpan<byte> evidence)
    {
        if (evidence.Length > MaxEvidenceLength)
        {
            throw Error(EvidenceFormatError.TooLarge, "evidence", 0, $"{evidence.Length} bytes exceed the maximum of {MaxEvidenceLength}");
        }

        if (evidence.Length < HeaderLength)
        {
            (string field, int offset) = FieldAt(evidence.Length);
            throw Error(EvidenceFormatError.Truncated, field, offset, $"evidence ends after {evidence.Length} bytes; the header is {HeaderLength}");
        }

        if (!evidence[..MagicLength].SequenceEqual(Magic))
        {
            throw Error(EvidenceFormatError.BadMagic, "magic", 0, "expected ASCII ENCSIMQ1");
        }

        ushort version = BinaryPrimitives.ReadUInt16LittleEndian(evidence[VersionOffset..]);
        if (version != SupportedVersion)
        {
            throw Error(EvidenceFormatError.UnsupportedVersion, "version", VersionOffset, $"version {version} is not supported; expected {SupportedVersion}");
        }

        ushort flags = BinaryPrimitives.ReadUInt16LittleEndian(evidence[FlagsOffset..]);
        if ((flags & ReservedFlagsMask) != 0)
        {
            throw Error(EvidenceFormatError.ReservedFlagsSet, "flags", FlagsOffset, $"reserved bits are set (0x{flags:x4}); only bit 0 (debug) is defined");
        }

        uint certificateLength = BinaryPrimitives.ReadUInt32LittleEndian(evidence[CertificateLengthOffset..]);
        if (certificateLength < 1 || certificateLength > MaxCertificateLength)
        {
            throw Error(EvidenceFormatError.LengthOutOfRange, "platform certificate length", CertificateLengthOffset, $"{certificateLength} is outside 1..{MaxCertificateLength}");
        }

        int signatureOffset = HeaderLength + (int)certificateLength;
        int expectedLength = signatureOffset + SignatureLength;
        if (evidence.Length < signatureOffset)
        {
            throw Error(EvidenceFormatError.Truncated, "platform certificate", HeaderLength, $"evidence ends after {evidence.Length} bytes; the certificate needs {certificateLength}");
        }

        if (evidence.Length < expectedLength)
        {
            throw Error(EvidenceFormatError.Truncated, "signature", signatureOffset, $"evidence ends after {evidence.Length} bytes; expected {expectedLength}");
        }

        if (evidence.Length > expectedLength)
        {
            throw Error(EvidenceFormatError.TrailingBytes, "end of evidence", expectedLength, $"{evidence.Length - expectedLength} bytes follow the signature");
        }

        return new UnverifiedSimulatedEvidence(
            version,
            flags,
            BinaryPrimitives.ReadUInt16LittleEndian(evidence[ProductIdOffset..]),
            BinaryPrimitives.ReadUInt16LittleEndian(evidence[SvnOffset..]),
            evidence.Slice(MeasurementOffset, MeasurementLength).ToArray(),
            evidence.Slice(SignerOffset, SignerLength).ToArray(),
            evidence.Slice(ReportDataOffset, ReportDataLength).ToArray(),
            evidence.Slice(HeaderLength, (int)certificateLength).ToArray(),
            evidence.Slice(signatureOffset, SignatureLength).ToArray(),
            evidence[..signatureOffset].ToArray());
    }

    private static (string Field, int Offset) FieldAt(int length)
    {
        (string Name, int Offset) result = s_headerFields[0];
        foreach ((string name, int offset) in s_headerFields)
        {
            if (offset <= length)
            {
                result = (name, offset);
            }
        }

        return result;
    }

    private static EvidenceFormatException Error(EvidenceFormatError code, string field, int offset, string detail) =>
        new(EvidenceFormat.Simulated, code, field, offset, detail);
}
