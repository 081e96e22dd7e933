// TCB_VERSION, 8 bytes, little-endian (AMD SEV Secure Nested Paging Firmware ABI Specification, pub. 56860,
// "TCB_VERSION Structure"):
//   Milan and Genoa:  0 BOOT_LOADER   1 TEE   2..5 reserved   6 SNP   7 MICROCODE
//   Turin:            0 FMC   1 BOOT_LOADER   2 TEE   3 SNP   4..6 reserved   7 MICROCODE
using System.Buffers.Binary;

namespace Enclave.AttestationVerifier.Evidence.SevSnp;

/// <summary>A TCB_VERSION value decoded with the layout of one product.</summary>
/// <param name="Raw">The 64-bit value as the report stores it (little-endian).</param>
/// <param name="Fmc">The FMC SVN (Turin only; null for other products).</param>
public sealed record SevSnpTcbVersion(ulong Raw, byte BootLoader, byte Tee, byte Snp, byte Microcode, byte? Fmc)
{
    public const int Length = 8;

    /// <summary>Decodes the 8 bytes at the start of <paramref name="bytes"/> with the layout of <paramref name="product"/>.</summary>
    public static SevSnpTcbVersion Decode(ReadOnlySpan<byte> bytes, SevSnpProduct product)
    {
        ulong raw = BinaryPrimitives.ReadUInt64LittleEndian(bytes);
        return product == SevSnpProduct.Turin
            ? new SevSnpTcbVersion(raw, bytes[1], bytes[2], bytes[3], bytes[7], bytes[0])
            : new SevSnpTcbVersion(raw, bytes[0], bytes[1], bytes[6], bytes[7], null);
    }

    /// <summary>The value re-decoded with the layout of another product.</summary>
    public SevSnpTcbVersion As(SevSnpProduct product)
    {
        Span<byte> bytes = stackalloc byte[Length];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, Raw);
        return Decode(bytes, product);
    }

    /// <summary>The 8 bytes in report order, lower-case hex.</summary>
    public string Hex
    {
        get
        {
            Span<byte> bytes = stackalloc byte[Length];
            BinaryPrimitives.WriteUInt64LittleEndian(bytes, Raw);
            return Convert.ToHexStringLower(bytes);
        }
    }
}
