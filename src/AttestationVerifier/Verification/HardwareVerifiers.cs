namespace Enclave.AttestationVerifier.Verification;

/// <summary>The hardware evidence verifiers this build has, and detection of a kind from the bytes.</summary>
public static class HardwareVerifiers
{
    /// <summary>Every hardware verifier, in detection order (most specific first).</summary>
    public static IReadOnlyList<IHardwareVerifier> All { get; } =
    [
        new Maa.MaaVerifier(),
        new Nitro.NitroVerifier(),
        new SevSnp.SevSnpVerifier(),
        new Dcap.SgxVerifier(),
        new Dcap.TdxVerifier(),
    ];

    /// <summary>
    /// The kinds the verifier service accepts as evidence: everything but Azure Attestation tokens, which are
    /// another verifier's verdict rather than hardware evidence.
    /// </summary>
    public static IEnumerable<IHardwareVerifier> Evidence => All.Where(v => v.Kind != "maa");

    /// <summary>The kinds, as `--kind` spells them.</summary>
    public static IEnumerable<string> Kinds => All.Select(v => v.Kind);

    /// <summary>The verifier for <paramref name="kind"/>, or null.</summary>
    public static IHardwareVerifier? Find(string kind) =>
        All.FirstOrDefault(v => string.Equals(v.Kind, kind, StringComparison.Ordinal));

    /// <summary>The first verifier that recognises the bytes, or null.</summary>
    public static IHardwareVerifier? Detect(ReadOnlySpan<byte> evidence)
    {
        foreach (IHardwareVerifier verifier in All)
        {
            if (verifier.Recognizes(evidence))
            {
                return verifier;
            }
        }

        return null;
    }
}
