// AMD SEV-SNP ATTESTATION_REPORT, versions 2 to 5 (AMD SEV Secure Nested Paging Firmware ABI Specification,
// publication 56860, "ATTESTATION_REPORT Structure"). 1184 (0x4A0) bytes, little-endian:
//   0x000 VERSION (4)        0x004 GUEST_SVN (4)        0x008 POLICY (8)          0x010 FAMILY_ID (16)
//   0x020 IMAGE_ID (16)      0x030 VMPL (4)             0x034 SIGNATURE_ALGO (4)  0x038 CURRENT_TCB (8)
//   0x040 PLATFORM_INFO (8)  0x048 flags (4): bit 0 AUTHOR_KEY_EN, bit 1 MASK_CHIP_KEY, bits 4:2 SIGNING_KEY
//   0x04C reserved (4)       0x050 REPORT_DATA (64)     0x090 MEASUREMENT (48)    0x0C0 HOST_DATA (32)
//   0x0E0 ID_KEY_DIGEST (48) 0x110 AUTHOR_KEY_DIGEST (48) 0x140 REPORT_ID (32)   0x160 REPORT_ID_MA (32)
//   0x180 REPORTED_TCB (8)   0x188 CPUID_FAM_ID, 0x189 CPUID_MOD_ID, 0x18A CPUID_STEP (version 3+; else reserved)
//   0x1A0 CHIP_ID (64)       0x1E0 COMMITTED_TCB (8)
//   0x1E8 CURRENT_BUILD, 0x1E9 CURRENT_MINOR, 0x1EA CURRENT_MAJOR (1 each), 0x1EB reserved
//   0x1EC COMMITTED_BUILD, 0x1ED COMMITTED_MINOR, 0x1EE COMMITTED_MAJOR (1 each), 0x1EF reserved
//   0x1F0 LAUNCH_TCB (8)     0x1F8 LAUNCH_MIT_VECTOR (8), 0x200 CURRENT_MIT_VECTOR (8) (version 5+; else reserved)
//   0x2A0 SIGNATURE (512): R (72, little-endian), S (72, little-endian), reserved (368)
// The signature (SIGNATURE_ALGO 1: ECDSA P-384 with SHA-384) covers bytes 0x000..0x29F.
using System.Buffers.Binary;

namespace Enclave.AttestationVerifier.Evidence.SevSnp;

/// <summary>
/// A SEV-SNP attestation report as parsed from bytes. Nothing here is verified: the signature, the endorsement
/// key and the TCB values are checked only by the SEV-SNP verifier.
/// </summary>
public sealed record SevSnpReport
{
    public const int Length = 0x4A0;
    public const int SignedLength = 0x2A0;
    public const int SignatureOffset = 0x2A0;
    public const int SignatureComponentLength = 72;
    public const int MinSupportedVersion = 2;
    public const int MaxSupportedVersion = 5;

    /// <summary>SIGNATURE_ALGO value for ECDSA P-384 with SHA-384, the only algorithm the ABI defines.</summary>
    public const uint EcdsaP384Sha384 = 1;

    /// <summary>SIGNING_KEY values: the VCEK, the VLEK, or none (the report is unsigned).</summary>
    public const int SigningKeyVcek = 0;
    public const int SigningKeyVlek = 1;
    public const int SigningKeyNone = 7;

    public const int VersionOffset = 0x000;
    public const int GuestSvnOffset = 0x004;
    public const int PolicyOffset = 0x008;
    public const int FamilyIdOffset = 0x010;
    public const int ImageIdOffset = 0x020;
    public const int VmplOffset = 0x030;
    public const int SignatureAlgoOffset = 0x034;
    public const int CurrentTcbOffset = 0x038;
    public const int PlatformInfoOffset = 0x040;
    public const int FlagsOffset = 0x048;
    public const int ReportDataOffset = 0x050;
    public const int MeasurementOffset = 0x090;
    public const int HostDataOffset = 0x0C0;
    public const int IdKeyDigestOffset = 0x0E0;
    public const int AuthorKeyDigestOffset = 0x110;
    public const int ReportIdOffset = 0x140;
    public const int ReportIdMaOffset = 0x160;
    public const int ReportedTcbOffset = 0x180;
    public const int CpuidFamilyOffset = 0x188;
    public const int CpuidModelOffset = 0x189;
    public const int CpuidSteppingOffset = 0x18A;
    public const int ChipIdOffset = 0x1A0;
    public const int CommittedTcbOffset = 0x1E0;
    public const int CurrentBuildOffset = 0x1E8;
    public const int CommittedBuildOffset = 0x1EC;
    public const int LaunchTcbOffset = 0x1F0;
    public const int LaunchMitVectorOffset = 0x1F8;
    public const int CurrentMitVectorOffset = 0x200;

    private SevSnpReport(byte[] bytes)
    {
        ReadOnlySpan<byte> r = bytes;
        Version = BinaryPrimitives.ReadUInt32LittleEndian(r[VersionOffset..]);
        GuestSvn = BinaryPrimitives.ReadUInt32LittleEndian(r[GuestSvnOffset..]);
        Policy = new SevSnpGuestPolicy(BinaryPrimitives.ReadUInt64LittleEndian(r[PolicyOffset..]));
        FamilyId = r.Slice(FamilyIdOffset, 16).ToArray();
        ImageId = r.Slice(ImageIdOffset, 16).ToArray();
        Vmpl = BinaryPrimitives.ReadUInt32LittleEndian(r[VmplOffset..]);
        SignatureAlgorithm = BinaryPrimitives.ReadUInt32LittleEndian(r[SignatureAlgoOffset..]);
        CurrentTcb = BinaryPrimitives.ReadUInt64LittleEndian(r[CurrentTcbOffset..]);
        PlatformInfo = BinaryPrimitives.ReadUInt64LittleEndian(r[PlatformInfoOffset..]);
        Flags = BinaryPrimitives.ReadUInt32LittleEndian(r[FlagsOffset..]);
        ReportData = r.Slice(ReportDataOffset, 64).ToArray();
        Measurement = r.Slice(MeasurementOffset, 48).ToArray();
        HostData = r.Slice(HostDataOffset, 32).ToArray();
        IdKeyDigest = r.Slice(IdKeyDigestOffset, 48).ToArray();
        AuthorKeyDigest = r.Slice(AuthorKeyDigestOffset, 48).ToArray();
        ReportId = r.Slice(ReportIdOffset, 32).ToArray();
        ReportIdMa = r.Slice(ReportIdMaOffset, 32).ToArray();
        ReportedTcb = BinaryPrimitives.ReadUInt64LittleEndian(r[ReportedTcbOffset..]);
        if (Version >= 3)
        {
            CpuidFamily = r[CpuidFamilyOffset];
            CpuidModel = r[CpuidModelOffset];
            CpuidStepping = r[CpuidSteppingOffset];
        }

        ChipId = r.Slice(ChipIdOffset, 64).ToArray();
        CommittedTcb = BinaryPrimitives.ReadUInt64LittleEndian(r[CommittedTcbOffset..]);
        CurrentBuild = r[CurrentBuildOffset];
        CurrentMinor = r[CurrentBuildOffset + 1];
        CurrentMajor = r[CurrentBuildOffset + 2];
        CommittedBuild = r[CommittedBuildOffset];
        CommittedMinor = r[CommittedBuildOffset + 1];
        CommittedMajor = r[CommittedBuildOffset + 2];
        LaunchTcb = BinaryPrimitives.ReadUInt64LittleEndian(r[LaunchTcbOffset..]);
        if (Version >= 5)
        {
            LaunchMitVector = BinaryPrimitives.ReadUInt64LittleEndian(r[LaunchMitVectorOffset..]);
            CurrentMitVector = BinaryPrimitives.ReadUInt64LittleEndian(r[CurrentMitVectorOffset..]);
        }

        SignatureR = r.Slice(SignatureOffset, SignatureComponentLength).ToArray();
        SignatureS = r.Slice(SignatureOffset + SignatureComponentLength, SignatureComponentLength).ToArray();
        SignatureReserved = r[(SignatureOffset + (2 * SignatureComponentLength))..].ToArray();
        Bytes = bytes;
    }

    public uint Version { get; }

    public uint GuestSvn { get; }

    public SevSnpGuestPolicy Policy { get; }

    public ReadOnlyMemory<byte> FamilyId { get; }

    public ReadOnlyMemory<byte> ImageId { get; }

    public uint Vmpl { get; }

    public uint SignatureAlgorithm { get; }

    /// <summary>CURRENT_TCB as stored; decode with <see cref="SevSnpTcbVersion.Decode"/> for the product.</summary>
    public ulong CurrentTcb { get; }

    public ulong PlatformInfo { get; }

    /// <summary>The flags word at 0x48 (AUTHOR_KEY_EN, MASK_CHIP_KEY, SIGNING_KEY).</summary>
    public uint Flags { get; }

    public bool AuthorKeyEnabled => (Flags & 1) != 0;

    public bool MaskChipKey => (Flags & 2) != 0;

    /// <summary>Which key signed: <see cref="SigningKeyVcek"/>, <see cref="SigningKeyVlek"/> or <see cref="SigningKeyNone"/>.</summary>
    public int SigningKey => (int)((Flags >> 2) & 7);

    public ReadOnlyMemory<byte> ReportData { get; }

    public ReadOnlyMemory<byte> Measurement { get; }

    public ReadOnlyMemory<byte> HostData { get; }

    public ReadOnlyMemory<byte> IdKeyDigest { get; }

    public ReadOnlyMemory<byte> AuthorKeyDigest { get; }

    public ReadOnlyMemory<byte> ReportId { get; }

    public ReadOnlyMemory<byte> ReportIdMa { get; }

    /// <summary>REPORTED_TCB: the TCB the VCEK was derived from; the endorsement key must certify exactly this.</summary>
    public ulong ReportedTcb { get; }

    /// <summary>CPUID family (report version 3 and later).</summary>
    public byte? CpuidFamily { get; }

    public byte? CpuidModel { get; }

    public byte? CpuidStepping { get; }

    public ReadOnlyMemory<byte> ChipId { get; }

    public ulong CommittedTcb { get; }

    public byte CurrentBuild { get; }

    public byte CurrentMinor { get; }

    public byte CurrentMajor { get; }

    public byte CommittedBuild { get; }

    public byte CommittedMinor { get; }

    public byte CommittedMajor { get; }

    public ulong LaunchTcb { get; }

    /// <summary>LAUNCH_MIT_VECTOR (report version 5 and later).</summary>
    public ulong? LaunchMitVector { get; }

    public ulong? CurrentMitVector { get; }

    /// <summary>R, 72 bytes little-endian (the top 24 bytes are zero for P-384).</summary>
    public ReadOnlyMemory<byte> SignatureR { get; }

    public ReadOnlyMemory<byte> SignatureS { get; }

    public ReadOnlyMemory<byte> SignatureReserved { get; }

    /// <summary>All 1184 bytes of the report.</summary>
    public ReadOnlyMemory<byte> Bytes { get; }

    /// <summary>The bytes the signature covers (0x000..0x29F).</summary>
    public ReadOnlyMemory<byte> SignedRegion => Bytes[..SignedLength];

    /// <summary>The product named by the CPUID fields, or <see cref="SevSnpProduct.Unknown"/> (version 2).</summary>
    public SevSnpProduct CpuidProduct =>
        CpuidFamily is { } family && CpuidModel is { } model ? SevSnpProducts.FromCpuid(family, model) : SevSnpProduct.Unknown;

    /// <summary>Parses exactly one report of <see cref="Length"/> bytes.</summary>
    /// <exception cref="EvidenceFormatException">The bytes are not a report of a supported version.</exception>
    public static SevSnpReport Parse(ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length < sizeof(uint))
        {
            throw Error(EvidenceFormatError.Truncated, "VERSION", 0, $"{bytes.Length} bytes; a report is {Length}");
        }

        uint version = BinaryPrimitives.ReadUInt32LittleEndian(bytes);
        if (version is < MinSupportedVersion or > MaxSupportedVersion)
        {
            throw Error(EvidenceFormatError.UnsupportedVersion, "VERSION", VersionOffset,
                $"version {version}; supported are {MinSupportedVersion} to {MaxSupportedVersion}");
        }

        if (bytes.Length < Length)
        {
            throw Error(EvidenceFormatError.Truncated, FieldAt(bytes.Length), bytes.Length, $"{bytes.Length} bytes; a report is {Length}");
        }

        if (bytes.Length > Length)
        {
            throw Error(EvidenceFormatError.TrailingBytes, "end of report", Length, $"{bytes.Length - Length} bytes follow the {Length}-byte report");
        }

        return new SevSnpReport(bytes.ToArray());
    }

    /// <summary>The name of the field at <paramref name="offset"/> (for error messages).</summary>
    public static string FieldAt(int offset) => offset switch
    {
        < GuestSvnOffset => "VERSION",
        < PolicyOffset => "GUEST_SVN",
        < FamilyIdOffset => "POLICY",
        < ImageIdOffset => "FAMILY_ID",
        < VmplOffset => "IMAGE_ID",
        < SignatureAlgoOffset => "VMPL",
        < CurrentTcbOffset => "SIGNATURE_ALGO",
        < PlatformInfoOffset => "CURRENT_TCB",
        < FlagsOffset => "PLATFORM_INFO",
        < ReportDataOffset => "flags",
        < MeasurementOffset => "REPORT_DATA",
        < HostDataOffset => "MEASUREMENT",
        < IdKeyDigestOffset => "HOST_DATA",
        < AuthorKeyDigestOffset => "ID_KEY_DIGEST",
        < ReportIdOffset => "AUTHOR_KEY_DIGEST",
        < ReportIdMaOffset => "REPORT_ID",
        < ReportedTcbOffset => "REPORT_ID_MA",
        < CpuidFamilyOffset => "REPORTED_TCB",
        < ChipIdOffset => "CPUID / reserved",
        < CommittedTcbOffset => "CHIP_ID",
        < CurrentBuildOffset => "COMMITTED_TCB",
        < LaunchTcbOffset => "firmware versions",
        < LaunchMitVectorOffset => "LAUNCH_TCB",
        < SignatureOffset => "reserved",
        _ => "SIGNATURE",
    };

    private static EvidenceFormatException Error(EvidenceFormatError code, string field, int offset, string detail) =>
        new(EvidenceFormat.SevSnp, code, field, offset, detail);
}
