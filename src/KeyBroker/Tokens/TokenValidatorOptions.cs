namespace Enclave.KeyBroker.Tokens;

public sealed class TokenValidatorOptions
{
    public const string DefaultAudience = "enclave-key-broker";

    /// <summary>Issuer URLs of the trusted attestation verifiers (trailing slashes ignored).</summary>
    public required IReadOnlyCollection<string> TrustedIssuers { get; init; }

    /// <summary>The required <c>aud</c>; null disables the audience check.</summary>
    public string? Audience { get; init; } = DefaultAudience;

    /// <summary>Tolerance for exp, nbf and iat; at most five minutes.</summary>
    public TimeSpan ClockSkew { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>Longest accepted token lifetime (exp minus iat/nbf).</summary>
    public TimeSpan MaxLifetime { get; init; } = TimeSpan.FromMinutes(15);

    public TimeProvider Time { get; init; } = TimeProvider.System;

    internal void Validate()
    {
        if (TrustedIssuers is null || TrustedIssuers.Count == 0 || TrustedIssuers.Any(string.IsNullOrWhiteSpace))
        {
            throw new ArgumentException("At least one trusted issuer is required, and none may be blank.", nameof(TrustedIssuers));
        }

        if (ClockSkew < TimeSpan.Zero || ClockSkew > TimeSpan.FromMinutes(5))
        {
            throw new ArgumentOutOfRangeException(nameof(ClockSkew), ClockSkew, "The clock skew must be between 0 and 5 minutes.");
        }

        if (MaxLifetime <= TimeSpan.Zero || MaxLifetime > TimeSpan.FromHours(24))
        {
            throw new ArgumentOutOfRangeException(nameof(MaxLifetime), MaxLifetime, "The maximum lifetime must be between 0 and 24 hours.");
        }

        ArgumentNullException.ThrowIfNull(Time);
    }
}
