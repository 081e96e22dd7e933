namespace Enclave.EnclaveHost;

/// <summary>Configuration of one regional host. Everything here is operational; none of it is secret.</summary>
public sealed class HostOptions
{
    /// <summary>The region the host says it serves (its logs, Describe); the enclave's region is the attested one.</summary>
    public required string Region { get; init; }

    /// <summary>Folder holding the region's encrypted datasets as <c>{datasetId}.encds</c>. Which dataset a round
    /// trains on is the coordinator's signed specification's choice, read by the enclave, not the host's.</summary>
    public required string DataDirectory { get; init; }

    /// <summary>Folder of the configured enclave image to launch (Enclave.EnclaveApp.dll, its dependencies and
    /// enclave.config.json, all covered by the measurement).</summary>
    public required string EnclaveDirectory { get; init; }

    /// <summary>The simulated platform's key and certificate (stands in for the CPU).</summary>
    public required string PlatformDirectory { get; init; }

    public required Uri VerifierGrpc { get; init; }

    public required Uri Broker { get; init; }

    /// <summary>Fault injection: when positive, the host process exits on receiving its n-th secure-aggregation step
    /// of a run (2 = after ShareKeys, before MaskedInput). For dropout tests only; 0 in normal operation.</summary>
    public int ExitAtStep { get; init; }

    /// <summary>Test mode: asks a simulated enclave to log its quantised inputs (real hardware ignores it).</summary>
    public bool DiscloseInputsForTests { get; init; }

    public int Port { get; init; }

    /// <summary>Port of the HTTP listener for /metrics and /healthz; null: none.</summary>
    public int? MetricsPort { get; init; }

    public string ListenAddress { get; init; } = Enclave.Hosting.ServiceHost.DefaultListenAddress;

    /// <summary>The host's TLS identity: it serves the coordinator over mutual TLS and dials the verifier and the
    /// broker over TLS. Null only in development on loopback (cleartext).</summary>
    public Enclave.Hosting.TlsSettings? Tls { get; init; }
}
