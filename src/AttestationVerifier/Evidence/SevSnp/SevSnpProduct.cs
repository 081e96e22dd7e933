namespace Enclave.AttestationVerifier.Evidence.SevSnp;

/// <summary>
/// The AMD EPYC product line a SEV-SNP report comes from. It selects the ARK that roots the chain and the layout
/// of TCB_VERSION (Turin adds an FMC SVN and moves the other components).
/// </summary>
public enum SevSnpProduct
{
    /// <summary>Not known from the report alone (version 2 reports carry no CPUID values).</summary>
    Unknown = 0,

    /// <summary>3rd generation EPYC (family 19h, models 00h-0Fh).</summary>
    Milan = 1,

    /// <summary>4th generation EPYC (family 19h, models 10h-1Fh and A0h-AFh).</summary>
    Genoa = 2,

    /// <summary>5th generation EPYC (family 1Ah, models 00h-1Fh).</summary>
    Turin = 3,
}

/// <summary>Maps product names and CPUID values to <see cref="SevSnpProduct"/>.</summary>
public static class SevSnpProducts
{
    /// <summary>The product named by a CPUID family and model (report version 3 and later).</summary>
    public static SevSnpProduct FromCpuid(byte family, byte model) => (family, model >> 4) switch
    {
        (0x19, 0x0) => SevSnpProduct.Milan,
        (0x19, 0x1) or (0x19, 0xA) => SevSnpProduct.Genoa,
        (0x1A, 0x0) or (0x1A, 0x1) => SevSnpProduct.Turin,
        _ => SevSnpProduct.Unknown,
    };

    /// <summary>The product named in AMD certificate names ("Milan", "ARK-Genoa", "SEV-VLEK-Turin", "Milan-B0").</summary>
    public static SevSnpProduct FromName(string? name)
    {
        if (name is null)
        {
            return SevSnpProduct.Unknown;
        }

        foreach (SevSnpProduct product in (ReadOnlySpan<SevSnpProduct>)[SevSnpProduct.Milan, SevSnpProduct.Genoa, SevSnpProduct.Turin])
        {
            string label = product.ToString();
            if (string.Equals(name, label, StringComparison.Ordinal)
                || name.EndsWith("-" + label, StringComparison.Ordinal)
                || name.StartsWith(label + "-", StringComparison.Ordinal))
            {
                return product;
            }
        }

        return SevSnpProduct.Unknown;
    }
}
