namespace Enclave.EnclaveApp.Attestation;

/// <summary>
/// A source of attestation evidence inside the enclave: the CPU's quoting machinery (SEV-SNP or TDX through the
/// Linux configfs-tsm interface, SGX through Open Enclave) or the simulated platform. The seam between enclave
/// code and the hardware device.
/// </summary>
public interface IEvidenceProvider
{
    /// <summary>The evidence format as the boundary and the verifier name it: simulated, sev-snp, tdx, sgx-oe.</summary>
    string Format { get; }

    /// <summary>Whether the platform can produce evidence here (the device or library is present and usable).</summary>
    bool IsAvailable { get; }

    /// <summary>Evidence whose report data (user data) binds <paramref name="reportData64"/>.</summary>
    /// <param name="reportData64">Exactly 64 bytes: SHA-512 of the enclave's runtime data.</param>
    /// <exception cref="ArgumentException"><paramref name="reportData64"/> is not 64 bytes.</exception>
    /// <exception cref="EvidenceUnavailableException">The platform did not produce evidence.</exception>
    byte[] GetEvidence(ReadOnlySpan<byte> reportData64);
}

/// <summary>The platform could not produce evidence (device missing, kernel or library error, a race).</summary>
public sealed class EvidenceUnavailableException : Exception
{
    public EvidenceUnavailableException(string message)
        : base(message)
    {
    }

    public EvidenceUnavailableException(string message, Exception inner)
        : base(message, inner)
    {
    }
}
