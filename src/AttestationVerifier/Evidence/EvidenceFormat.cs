namespace Enclave.AttestationVerifier.Evidence;

/// <summary>
/// The kind of evidence an enclave presents. Extensible: unknown values round-trip, and the verifier answers
/// them with an unsupported-format outcome. Values are compared ordinally, exactly as they travel on the wire.
/// </summary>
public readonly struct EvidenceFormat : IEquatable<EvidenceFormat>
{
    private const string SimulatedValue = "simulated";
    private const string SgxValue = "sgx";
    private const string TdxValue = "tdx";
    private const string SevSnpValue = "sev-snp";
    private const string NitroValue = "nitro";
    private const string MaaValue = "maa";

    private readonly string? _value;

    /// <exception cref="ArgumentException"><paramref name="value"/> is null, empty or whitespace.</exception>
    public EvidenceFormat(string value)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(value);
        _value = value;
    }

    /// <summary>The simulated enclave's own format (docs/formats.md section 1). Insecure; development only.</summary>
    public static EvidenceFormat Simulated { get; } = new(SimulatedValue);

    /// <summary>Intel SGX DCAP ECDSA quote, version 3.</summary>
    public static EvidenceFormat Sgx { get; } = new(SgxValue);

    /// <summary>Intel TDX quote, version 4 or 5 (TD 1.0 or TD 1.5 body).</summary>
    public static EvidenceFormat Tdx { get; } = new(TdxValue);

    /// <summary>AMD SEV-SNP attestation report with its VCEK/ASK/ARK chain.</summary>
    public static EvidenceFormat SevSnp { get; } = new(SevSnpValue);

    /// <summary>AWS Nitro attestation document (COSE_Sign1).</summary>
    public static EvidenceFormat Nitro { get; } = new(NitroValue);

    /// <summary>Microsoft Azure Attestation token (compact JWS) presented as evidence.</summary>
    public static EvidenceFormat Maa { get; } = new(MaaValue);

    /// <summary>The wire name, for example <c>simulated</c>.</summary>
    public string Value => _value ?? string.Empty;

    public static bool operator ==(EvidenceFormat left, EvidenceFormat right) => left.Equals(right);

    public static bool operator !=(EvidenceFormat left, EvidenceFormat right) => !left.Equals(right);

    public static implicit operator EvidenceFormat(string value) => new(value);

    public bool Equals(EvidenceFormat other) => string.Equals(Value, other.Value, StringComparison.Ordinal);

    public override bool Equals(object? obj) => obj is EvidenceFormat other && Equals(other);

    public override int GetHashCode() => StringComparer.Ordinal.GetHashCode(Value);

    public override string ToString() => Value;
}
