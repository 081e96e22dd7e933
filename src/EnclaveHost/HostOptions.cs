namespace Enclave.EnclaveHost;

/// <summary>Configuration of one regional host. Everything here is operational; none of it is secret.</summary>
public sealed class HostOptions
{
    public required string Region { get; init; }

    public required string DatasetId { get; init; }

    public required string KeyName { get; init; }

    /// <summary>Folder holding the region's encrypted datasets as <c>{datasetId}.encds</c>.</summary>
    public required string DataDirectory { get; init; }

    /// <summary>Folder of the enclave build to launch (Enclave.EnclaveApp.dll and its dependencies).</summary>
    public required string EnclaveDirectory { get; init; }

    /// <summary>The simulated platform's key and certificate (stands in for the CPU).</summary>
    public required string PlatformDirectory { get; init; }

    public required Uri VerifierGrpc { get; init; }

    /// <summary>The verifier's issuer URL; its JWKS is served at <c>{issuer}/certs</c>.</summary>
    public required Uri VerifierIssuer { get; init; }

    public required Uri Broker { get; init; }

    /// <summary>Fault injection: when positive, the host process exits on receiving its n-th secure-aggregation step
    /// of a run (2 = after ShareKeys, before MaskedInput). For dropout tests only; 0 in normal operation.</summary>
    public int ExitAtStep { get; init; }

    /// <summary>Test mode: asks a simulated enclave to log its quantised inputs (real hardware ignores it).</summary>
    public bool DiscloseInputsForTests { get; init; }

    public int Port { get; init; }

    public string ListenAddress { get; init; } = "127.0.0.1";
}
