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

    public int Port { get; init; }

    public string ListenAddress { get; init; } = "127.0.0.1";
}
