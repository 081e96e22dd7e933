// The enclave program. In simulated mode the regional host launches it as a child process and talks to it only
// through length-prefixed frames on stdin/stdout (docs/formats.md section 8); diagnostics go to stderr.
//
// usage: Enclave.EnclaveApp [--platform-dir DIR]
//
// What the enclave trusts comes from its own image, never from the host: enclave.config.json beside this assembly
// (covered by the measurement) pins the verifier (issuer and signing keys), the coordinator's keys and the mode.
// A simulated image takes its evidence from the simulated platform in --platform-dir (the stand-in for the CPU,
// which the host holds); a hardware image takes it from configfs-tsm (SEV-SNP, TDX) or Open Enclave (SGX) and
// never from the simulated platform, whatever the host passes.
using Enclave.Crypto;
using Enclave.EnclaveApp;
using Enclave.EnclaveApp.Attestation;
using Enclave.EnclaveApp.Boundary;

string? platformDirectory = null;
for (int i = 0; i < args.Length; i++)
{
    if (args[i] == "--platform-dir" && i + 1 < args.Length)
    {
        platformDirectory = args[++i];
    }
    else
    {
        Console.Error.WriteLine($"enclave: unknown argument '{args[i]}' (usage: [--platform-dir DIR])");
        return 2;
    }
}

EnclaveConfiguration configuration;
try
{
    configuration = EnclaveConfiguration.Load(AppContext.BaseDirectory);
}
catch (Exception ex) when (ex is InvalidDataException or IOException or UnauthorizedAccessException)
{
    Console.Error.WriteLine($"enclave: {ex.Message}");
    return 2;
}

if (configuration.Mode == EnclaveMode.Simulated && platformDirectory is null)
{
    Console.Error.WriteLine("enclave: this image is configured for the simulated platform; --platform-dir (its key and certificate) is required");
    return 2;
}

// stdout belongs to the boundary: nothing else may write there.
Stream toHost = Console.OpenStandardOutput();
Stream fromHost = Console.OpenStandardInput();
Console.SetOut(Console.Error);

IEvidenceProvider evidence;
byte[] measurement;
string platformId;
if (configuration.Mode == EnclaveMode.Simulated)
{
    SimulatedPlatform platform = SimulatedPlatform.Load(platformDirectory!, AppContext.BaseDirectory);
    (evidence, measurement, platformId) = (platform, platform.Measurement, platform.PlatformId);
}
else
{
    try
    {
        evidence = EvidenceProviderSelector.Select(new EvidenceProviderOptions { AllowSimulated = false }, simulated: null);
    }
    catch (EvidenceUnavailableException ex)
    {
        Console.Error.WriteLine($"enclave: {ex.Message}");
        return 4;
    }

    (measurement, platformId) = (CodeManifest.Measure(AppContext.BaseDirectory), string.Empty);
    Console.Error.WriteLine($"enclave: evidence from {evidence.Format}");
}

var runtime = new EnclaveRuntime(new BoundaryChannel(fromHost, toHost), configuration, evidence, measurement, platformId);
try
{
    await runtime.RunAsync(CancellationToken.None);
    return 0;
}
catch (BoundaryViolationException ex)
{
    Console.Error.WriteLine($"enclave: boundary violation, stopping: {ex.Message}");
    return 3;
}
finally
{
    (evidence as IDisposable)?.Dispose();
}
