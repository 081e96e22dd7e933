using Enclave.EnclaveApp.Attestation;

namespace Enclave.EnclaveApp.Tests.Attestation;

public sealed class EvidenceProviderSelectionTests
{
    [Fact]
    public void Open_enclave_is_unavailable_when_no_library_loads()
    {
        using OpenEnclaveSgxProvider provider = new(["libenclave-test-no-such-oe.so", "/nonexistent/liboehost.so"]);

        Assert.False(provider.IsAvailable);
        Assert.Null(provider.LoadedLibrary);
        Assert.Equal("sgx-oe", provider.Format);
        EvidenceUnavailableException ex = Assert.Throws<EvidenceUnavailableException>(() => provider.GetEvidence(new byte[64]));
        Assert.Contains("libenclave-test-no-such-oe.so", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Open_enclave_is_unavailable_when_the_library_lacks_the_attester_exports()
    {
        // libc loads everywhere on Linux but exports no oe_get_evidence.
        using OpenEnclaveSgxProvider provider = new(["libc.so.6"]);

        Assert.False(provider.IsAvailable);
    }

    [Fact]
    public void Open_enclave_default_libraries_are_not_present_on_this_machine()
    {
        using OpenEnclaveSgxProvider provider = new();

        Assert.False(provider.IsAvailable);
        Assert.Throws<ArgumentException>(() => provider.GetEvidence(new byte[63]));
    }

    [Fact]
    public void Configfs_tsm_with_a_known_provider_is_chosen_first()
    {
        using FakeConfigfsKernel kernel = new("tdx_guest", inblob => inblob);
        using OpenEnclaveSgxProvider openEnclave = new(["libc.so.6"]);
        ConfigfsTsmProvider configfs = new(kernel);

        IEvidenceProvider chosen = EvidenceProviderSelector.Select([configfs, openEnclave], allowSimulated: true, () => throw new InvalidOperationException("not expected"));

        Assert.Same(configfs, chosen);
    }

    [Fact]
    public void Simulated_is_chosen_only_when_allowed()
    {
        using FakeConfigfsKernel kernel = new(provider: null, inblob => inblob);
        Fixed simulated = new("simulated");

        IEvidenceProvider chosen = EvidenceProviderSelector.Select(
            [new ConfigfsTsmProvider(kernel), new OpenEnclaveSgxProvider(["libenclave-test-no-such-oe.so"])], allowSimulated: true, () => simulated);

        Assert.Same(simulated, chosen);
    }

    [Fact]
    public void Without_hardware_and_without_permission_selection_fails_closed()
    {
        using FakeConfigfsKernel kernel = new("sev_host", inblob => inblob);

        EvidenceUnavailableException ex = Assert.Throws<EvidenceUnavailableException>(() => EvidenceProviderSelector.Select(
            [new ConfigfsTsmProvider(kernel), new OpenEnclaveSgxProvider(["libenclave-test-no-such-oe.so"])], allowSimulated: false, () => new Fixed("simulated")));

        Assert.Contains("not allowed", ex.Message, StringComparison.Ordinal);
        Assert.Contains("sgx-oe", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Options_default_to_no_simulation_and_fail_closed_here()
    {
        EvidenceProviderOptions options = new()
        {
            ConfigfsTsmRoot = Path.Combine(Path.GetTempPath(), "no-such-tsm-" + Guid.NewGuid().ToString("N")),
            OpenEnclaveLibraries = ["libenclave-test-no-such-oe.so"],
        };

        Assert.False(options.AllowSimulated);
        Assert.Throws<EvidenceUnavailableException>(() => EvidenceProviderSelector.Select(options, () => new Fixed("simulated")));
        Assert.Equal("simulated", EvidenceProviderSelector.Select(options with { AllowSimulated = true }, () => new Fixed("simulated")).Format);
    }

    private sealed class Fixed(string format) : IEvidenceProvider
    {
        public string Format => format;

        public bool IsAvailable => true;

        public byte[] GetEvidence(ReadOnlySpan<byte> reportData64) => reportData64.ToArray();
    }
}
