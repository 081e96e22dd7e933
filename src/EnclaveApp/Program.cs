// The enclave program. In simulated mode the regional host launches it as a child process and talks to it only
// through length-prefixed frames on stdin/stdout (docs/formats.md section 8); diagnostics go to stderr.
//
// usage: Enclave.EnclaveApp --platform-dir DIR                       simulated platform (the default)
//        Enclave.EnclaveApp --evidence auto [--allow-simulated --platform-dir DIR]
//            configfs-tsm (SEV-SNP, TDX), else Open Enclave (SGX), else the simulated platform only when allowed
using Enclave.Crypto;
using Enclave.EnclaveApp;
using Enclave.EnclaveApp.Attestation;
using Enclave.EnclaveApp.Boundary;

string? platformDirectory = null;
string evidenceMode = "simulated";
bool allowSimulated = false;
for (int i = 0; i < args.Length; i++)
{
    if (args[i] == "--platform-dir" && i + 1 < args.Length)
    {
        platformDirectory = args[++i];
    }
    else if (args[i] == "--evidence" && i + 1 < args.Length && args[i + 1] is "simulated" or "auto")
    {
        evidenceMode = args[++i];
    }
    else if (args[i] == "--allow-simulated")
    {
        allowSimulated = true;
    }
    else
    {
        Console.Error.WriteLine($"enclave: unknown argument '{args[i]}' (usage: --platform-dir DIR [--evidence simulated|auto] [--allow-simulated])");
        return 2;
    }
}

if (allowSimulated && platformDirectory is null)
{
    Console.Error.WriteLine("enclave: --allow-simulated needs --platform-dir (the simulated platform's key and certificate)");
    return 2;
}

if (evidenceMode == "simulated" && platformDirectory is null)
{
    Console.Error.WriteLine("enclave: --platform-dir is required (the simulated platform's key and certificate)");
    return 2;
}

// stdout belongs to the boundary: nothing else may write there.
Stream toHost = Console.OpenStandardOutput();
Stream fromHost = Console.OpenStandardInput();
Console.SetOut(Console.Error);

IEvidenceProvider evidence;
byte[] measurement;
string platformId;
if (evidenceMode == "simulated")
{
    SimulatedPlatform platform = SimulatedPlatform.Load(platformDirectory!, AppContext.BaseDirectory);
    (evidence, measurement, platformId) = (platform, platform.Measurement, platform.PlatformId);
}
else
{
    try
    {
        evidence = EvidenceProviderSelector.Select(
            new EvidenceProviderOptions { AllowSimulated = allowSimulated },
            () => SimulatedPlatform.Load(platformDirectory!, AppContext.BaseDirectory));
    }
    catch (EvidenceUnavailableException ex)
    {
        Console.Error.WriteLine($"enclave: {ex.Message}");
        return 4;
    }

    (measurement, platformId) = evidence is SimulatedPlatform simulated
        ? (simulated.Measurement, simulated.PlatformId)
        : (CodeManifest.Measure(AppContext.BaseDirectory), string.Empty);
    Console.Error.WriteLine($"enclave: evidence from {evidence.Format}");
}

var runtime = new EnclaveRuntime(new BoundaryChannel(fromHost, toHost), evidence, measurement, platformId);
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
