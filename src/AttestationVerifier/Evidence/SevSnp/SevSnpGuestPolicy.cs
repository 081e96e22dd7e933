// Guest policy, 64 bits (AMD SEV-SNP Firmware ABI Specification, pub. 56860, "Guest Policy Structure"):
//   7:0 ABI_MINOR   15:8 ABI_MAJOR   16 SMT   17 reserved, must be one   18 MIGRATE_MA   19 DEBUG
//   20 SINGLE_SOCKET   21 CXL_ALLOW   22 MEM_AES_256_XTS   23 RAPL_DIS   24 CIPHERTEXT_HIDING   25 PAGE_SWAP_DISABLE
namespace Enclave.AttestationVerifier.Evidence.SevSnp;

/// <summary>The guest policy the VM was launched with, decoded.</summary>
public sealed record SevSnpGuestPolicy(ulong Raw)
{
    public byte AbiMinor => (byte)Raw;

    public byte AbiMajor => (byte)(Raw >> 8);

    public bool SmtAllowed => Bit(16);

    public bool ReservedOne => Bit(17);

    public bool MigrateMa => Bit(18);

    /// <summary>The hypervisor may debug the guest (read and write its memory): never acceptable in production.</summary>
    public bool DebugAllowed => Bit(19);

    public bool SingleSocket => Bit(20);

    public bool CxlAllowed => Bit(21);

    public bool MemAes256Xts => Bit(22);

    public bool RaplDisabled => Bit(23);

    public bool CiphertextHiding => Bit(24);

    public bool PageSwapDisabled => Bit(25);

    private bool Bit(int index) => ((Raw >> index) & 1) != 0;
}
