using System.Text.Json.Nodes;

namespace Enclave.AttestationVerifier.Tokens;

/// <summary>An attestation token as issued: the compact JWT, its id and a copy of its claims.</summary>
public sealed class IssuedToken
{
    private readonly JsonObject _claims;

    internal IssuedToken(string token, string tokenId, JsonObject claims, DateTimeOffset issuedAt, DateTimeOffset expiresAt)
    {
        Token = token;
        TokenId = tokenId;
        _claims = claims;
        IssuedAt = issuedAt;
        ExpiresAt = expiresAt;
    }

    public string Token { get; }

    /// <summary>The <c>jti</c> claim, 32 lower-case hex characters.</summary>
    public string TokenId { get; }

    public JsonObject Claims => (JsonObject)_claims.DeepClone();

    public DateTimeOffset IssuedAt { get; }

    public DateTimeOffset ExpiresAt { get; }
}
