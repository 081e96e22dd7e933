namespace Enclave.Aggregator;

/// <summary>One participant: where its host is, and which dataset and data key its enclave must use. The round
/// specification carries the dataset and key to the enclave under the coordinator's signature.</summary>
/// <param name="KeyId">The broker key id, "{owner thumbprint}/{name}".</param>
public sealed record RegionEndpoint(string Region, Uri Address, string DatasetId, string KeyId);

/// <summary>Configuration of the coordinator: who takes part, what it trusts, and how rounds are run.</summary>
public sealed class CoordinatorOptions
{
    public required IReadOnlyList<RegionEndpoint> Hosts { get; init; }

    /// <summary>Issuer URL of the trusted attestation verifier, as its tokens name it.</summary>
    public required Uri VerifierIssuer { get; init; }

    /// <summary>The verifier's signing keys, pinned by the operator (a key file, never fetched over a link).</summary>
    public required Crypto.JwkSet VerifierKeys { get; init; }

    /// <summary>Enclave measurements whose updates are accepted (lower-case hex).</summary>
    public required IReadOnlyCollection<string> AllowedMeasurements { get; init; }

    public required string DataDirectory { get; init; }

    public Uri? Broker { get; init; }

    public bool AllowSimulated { get; init; }

    public string TestDataDirectory { get; init; } = "/usr/share/datasets/fashion-mnist";

    /// <summary>The model owner's signed training plan every round carries (docs/formats.md section 14).</summary>
    public required Privacy.SignedPlan Plan { get; init; }

    /// <summary>The model owner's public key, whose thumbprint is the plan's kid; sent with the plan.</summary>
    public required Crypto.Jwk PlanOwnerKey { get; init; }

    public double Clip { get; init; } = 8.0;

    /// <summary>The cap on any one participant's FedAvg weight (examples), written into every round specification.</summary>
    public long MaxSamplesPerParticipant { get; init; } = 100_000;

    /// <summary>The dropout fraction secure aggregation is sized for (SecAggParameters.Derive).</summary>
    public double DropoutFraction { get; init; }

    /// <summary>How long a round specification is valid.</summary>
    public TimeSpan SpecificationLifetime { get; init; } = TimeSpan.FromMinutes(30);

    public int ScaleBits { get; init; } = 20;

    /// <summary>A round needs at least this many participants; the staged protocol needs a cohort of three or more.</summary>
    public int MinimumParticipants { get; init; } = 3;

    public TimeSpan StageTimeout { get; init; } = TimeSpan.FromMinutes(5);

    public int Port { get; init; }

    /// <summary>Port of the HTTP listener for /metrics and /healthz; null: none.</summary>
    public int? MetricsPort { get; init; }

    public string ListenAddress { get; init; } = Enclave.Hosting.ServiceHost.DefaultListenAddress;

    /// <summary>The coordinator's TLS identity: it serves operators over mutual TLS and presents it to the hosts,
    /// which admit only clients of the deployment CA. Null only in development on loopback (cleartext).</summary>
    public Enclave.Hosting.TlsSettings? Tls { get; init; }
}
