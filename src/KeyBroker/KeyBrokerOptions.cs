using Enclave.KeyBroker.Tokens;

namespace Enclave.KeyBroker;

public sealed class KeyBrokerOptions
{
    /// <summary>Directory of the database, the import key, the audit signing key and (simulated mode)
    /// the file master key. Created (0700) if absent.</summary>
    public required string DataDirectory { get; init; }

    /// <summary>Issuer URLs of the attestation verifiers whose tokens are accepted.</summary>
    public required IReadOnlyList<string> TrustedIssuers { get; init; }

    /// <summary>The required token <c>aud</c>; null disables the check.</summary>
    public string? Audience { get; init; } = TokenValidatorOptions.DefaultAudience;

    /// <summary>Simulated mode: a file master key is allowed, and tokens from simulated evidence are
    /// accepted (outside simulated mode they are denied with AttestationTypeNotAllowed).</summary>
    public bool SimulatedMode { get; init; }

    public TimeProvider Time { get; init; } = TimeProvider.System;

    /// <summary>How long an issued nonce stays valid.</summary>
    public TimeSpan NonceLifetime { get; init; } = TimeSpan.FromMinutes(5);

    /// <summary>Tolerance for token times; at most five minutes.</summary>
    public TimeSpan ClockSkew { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>Longest accepted token lifetime.</summary>
    public TimeSpan MaxTokenLifetime { get; init; } = TimeSpan.FromMinutes(15);

    /// <summary>Public keys of the security team whose signed node enrolments the broker records in its
    /// audit log (as relayed by the verifier or the enrolling tool).</summary>
    public IReadOnlyList<Crypto.Jwk> EnrollmentKeys { get; init; } = [];

    /// <summary>Store connection string; null means the SQLite file <c>keybroker.db</c> in <see cref="DataDirectory"/>.</summary>
    public string? ConnectionString { get; init; }

    internal void Validate()
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(DataDirectory);
        if (TrustedIssuers is null || TrustedIssuers.Count == 0 || TrustedIssuers.Any(string.IsNullOrWhiteSpace))
        {
            throw new ArgumentException("At least one trusted issuer is required, and none may be blank.", nameof(TrustedIssuers));
        }

        ArgumentNullException.ThrowIfNull(Time);
        if (NonceLifetime <= TimeSpan.Zero || NonceLifetime > TimeSpan.FromHours(1))
        {
            throw new ArgumentOutOfRangeException(nameof(NonceLifetime), NonceLifetime, "The nonce lifetime must be between 0 and 1 hour.");
        }
    }
}
