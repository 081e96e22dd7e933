// The enclave program. In simulated mode the regional host launches it as a child process and talks to it only
// through length-prefixed frames on stdin/stdout (docs/formats.md section 8); diagnostics go to stderr.
//
// usage: Enclave.EnclaveApp --platform-dir DIR
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
        Console.Error.WriteLine($"enclave: unknown argument '{args[i]}' (usage: --platform-dir DIR)");
        return 2;
    }
}

if (platformDirectory is null)
{
    Console.Error.WriteLine("enclave: --platform-dir is required (the simulated platform's key and certificate)");
    return 2;
}

// stdout belongs to the boundary: nothing else may write there.
Stream toHost = Console.OpenStandardOutput();
Stream fromHost = Console.OpenStandardInput();
Console.SetOut(Console.Error);

using SimulatedPlatform platform = SimulatedPlatform.Load(platformDirectory, AppContext.BaseDirectory);
var runtime = new EnclaveRuntime(new BoundaryChannel(fromHost, toHost), platform);
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
