using System.Text.Json;
using System.Text.Json.Nodes;
using Enclave.KeyBroker.Policy;

namespace Enclave.KeyBroker.Tokens;

/// <summary>An attestation token whose signature, issuer, lifetime, audience and nonce were checked. Its nonce
/// is authentic and fresh but not yet consumed: the release consumes it when it records its outcome.</summary>
public sealed class ValidatedToken
{
    internal ValidatedToken(JsonObject claims, string issuer, string nonce, DateTimeOffset nonceExpiresAt)
    {
        NonceExpiresAt = nonceExpiresAt;
        Claims = claims;
        ClaimsElement = JsonSerializer.SerializeToElement(claims);
        Issuer = issuer;
        Nonce = nonce;
        TokenId = GetString(KnownClaims.TokenId);
        Region = GetString(KnownClaims.Region);
        Measurement = GetString(KnownClaims.SgxMrEnclave);
        AttestationType = GetString(KnownClaims.AttestationType);
        IsSimulated = string.Equals(AttestationType, "simulated", StringComparison.Ordinal)
            || (claims.TryGetPropertyValue(KnownClaims.Simulated, out JsonNode? simulated)
                && simulated is JsonValue value && value.GetValueKind() == JsonValueKind.True);
    }

    public JsonObject Claims { get; }

    /// <summary>The claims as a detached JSON element, for policy evaluation.</summary>
    public JsonElement ClaimsElement { get; }

    public string Issuer { get; }

    public string Nonce { get; }

    /// <summary>When the nonce expires (it is encoded in the nonce).</summary>
    public DateTimeOffset NonceExpiresAt { get; }

    public string? TokenId { get; }

    public string? Region { get; }

    public string? Measurement { get; }

    public string? AttestationType { get; }

    /// <summary>True when the token says it derives from simulated evidence.</summary>
    public bool IsSimulated { get; }

    private string? GetString(string name) =>
        Claims.TryGetPropertyValue(name, out JsonNode? node) && node is JsonValue value
            && value.GetValueKind() == JsonValueKind.String
            ? value.GetValue<string>()
            : null;
}

/// <summary>The outcome of <see cref="TokenValidator.ValidateAsync"/>: a token, or a reason and detail.</summary>
public sealed class TokenValidationResult
{
    private TokenValidationResult(ValidatedToken? token, ReasonCode? reason, string detail)
    {
        Token = token;
        Reason = reason;
        Detail = detail;
    }

    public bool IsValid => Token is not null;

    public ValidatedToken? Token { get; }

    public ReasonCode? Reason { get; }

    public string Detail { get; }

    internal static TokenValidationResult Valid(ValidatedToken token) => new(token, null, "token valid");

    internal static TokenValidationResult Invalid(ReasonCode reason, string detail) => new(null, reason, detail);
}
