namespace Enclave.EnclaveApp.Attestation;

/// <summary>How the enclave finds its evidence provider.</summary>
public sealed record EvidenceProviderOptions
{
    /// <summary>The configfs-tsm report directory.</summary>
    public string ConfigfsTsmRoot { get; init; } = ConfigfsTsmProvider.DefaultRoot;

    /// <summary>Open Enclave libraries to try.</summary>
    public IReadOnlyList<string> OpenEnclaveLibraries { get; init; } = OpenEnclaveSgxProvider.DefaultLibraries;

    /// <summary>Whether the simulated platform may be used when no hardware provider is available. Off unless
    /// the configuration says so: without it, no hardware means no evidence.</summary>
    public bool AllowSimulated { get; init; }
}

/// <summary>
/// Chooses the evidence provider: configfs-tsm when its provider is sev_guest or tdx_guest, else Open Enclave when
/// its library loads, else the simulated platform only when explicitly allowed. Fails closed otherwise.
/// </summary>
public static class EvidenceProviderSelector
{
    /// <exception cref="EvidenceUnavailableException">No hardware provider is available and simulation is not allowed.</exception>
    public static IEvidenceProvider Select(EvidenceProviderOptions options, Func<IEvidenceProvider>? simulated)
    {
        ArgumentNullException.ThrowIfNull(options);
        return Select(
            [new ConfigfsTsmProvider(options.ConfigfsTsmRoot), new OpenEnclaveSgxProvider(options.OpenEnclaveLibraries)],
            options.AllowSimulated,
            simulated);
    }

    /// <summary>The first available of <paramref name="hardware"/>, in order; then the simulated one if allowed.</summary>
    /// <exception cref="EvidenceUnavailableException">None is available and simulation is not allowed.</exception>
    public static IEvidenceProvider Select(IEnumerable<IEvidenceProvider> hardware, bool allowSimulated, Func<IEvidenceProvider>? simulated)
    {
        ArgumentNullException.ThrowIfNull(hardware);
        List<string> tried = [];
        foreach (IEvidenceProvider provider in hardware)
        {
            if (provider.IsAvailable)
            {
                return provider;
            }

            tried.Add(provider.Format);
            (provider as IDisposable)?.Dispose();
        }

        if (allowSimulated && simulated is not null)
        {
            return simulated();
        }

        throw new EvidenceUnavailableException(
            $"no attestation hardware is available (tried {string.Join(", ", tried)}) and simulated evidence is not allowed by the configuration");
    }
}
