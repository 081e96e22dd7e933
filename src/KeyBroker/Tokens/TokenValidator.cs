// Validation of attestation tokens (docs/formats.md section 4) in this order: size; issuer among the
// configured verifiers; signature by a key of that issuer's JWKS with ES256 or ES384 only (no "none",
// no RSA/HMAC, no keys from headers); exp/nbf/iat with bounded skew; lifetime; audience; then the nonce
// ("nonce", or "x-ms-runtime.nonce"; if both are present they must agree), which must have been issued
// by this broker and is consumed, so a token is accepted at most once.
using System.Text.Json;
using System.Text.Json.Nodes;
using Enclave.Crypto;
using Enclave.KeyBroker.Policy;

namespace Enclave.KeyBroker.Tokens;

public sealed class TokenValidator
{
    private static readonly string[] s_algorithms = ["ES256", "ES384"];

    private readonly TokenValidatorOptions _options;
    private readonly IVerifierKeySource _keys;
    private readonly NonceStore _nonces;
    private readonly Dictionary<string, string> _issuers = new(StringComparer.Ordinal);

    public TokenValidator(TokenValidatorOptions options, IVerifierKeySource keys, NonceStore nonces)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(keys);
        ArgumentNullException.ThrowIfNull(nonces);
        options.Validate();
        _options = options;
        _keys = keys;
        _nonces = nonces;
        foreach (string issuer in options.TrustedIssuers)
        {
            _issuers[StaticVerifierKeySource.Normalize(issuer)] = issuer;
        }
    }

    public async ValueTask<TokenValidationResult> ValidateAsync(string token, CancellationToken cancellationToken = default)
    {
        if (string.IsNullOrEmpty(token) || token.Length > Jws.MaxTokenLength)
        {
            return TokenValidationResult.Invalid(ReasonCode.TokenInvalid, "the token is empty or longer than 64 KiB");
        }

        string issuer;
        try
        {
            JsonObject unverified = Jwt.ReadUnverifiedClaims(token);
            if (!unverified.TryGetPropertyValue(KnownClaims.Issuer, out JsonNode? iss)
                || iss is not JsonValue issValue || issValue.GetValueKind() != JsonValueKind.String)
            {
                return TokenValidationResult.Invalid(ReasonCode.TokenInvalid, "the token has no \"iss\" string");
            }

            issuer = issValue.GetValue<string>();
        }
        catch (JoseException e)
        {
            return TokenValidationResult.Invalid(ReasonCode.TokenInvalid, $"{e.Code}: {e.Message}");
        }

        if (!_issuers.ContainsKey(StaticVerifierKeySource.Normalize(issuer)))
        {
            return TokenValidationResult.Invalid(ReasonCode.WrongIssuer, $"the issuer \"{Clip(issuer)}\" is not a trusted verifier");
        }

        JwtValidated validated;
        try
        {
            validated = await ValidateSignedAsync(token, issuer, cancellationToken).ConfigureAwait(false);
        }
        catch (VerifierKeysUnavailableException e)
        {
            return TokenValidationResult.Invalid(ReasonCode.TokenInvalid, $"the verifier's keys are unavailable: {e.Message}");
        }
        catch (JoseException e)
        {
            return TokenValidationResult.Invalid(MapJoseError(e.Code, token), $"{e.Code}: {e.Message}");
        }

        string? nonce = GetString(validated.Claims, KnownClaims.Nonce);
        string? runtimeNonce = validated.Claims[KnownClaims.Runtime] is JsonObject runtime ? GetString(runtime, KnownClaims.Nonce) : null;
        if (nonce is null && runtimeNonce is null)
        {
            return TokenValidationResult.Invalid(ReasonCode.NonceMissing, "the token carries no nonce");
        }

        if (nonce is not null && runtimeNonce is not null && !string.Equals(nonce, runtimeNonce, StringComparison.Ordinal))
        {
            return TokenValidationResult.Invalid(ReasonCode.TokenInvalid, "\"nonce\" and \"x-ms-runtime.nonce\" differ");
        }

        string effectiveNonce = (nonce ?? runtimeNonce)!;
        if (!_nonces.TryConsume(effectiveNonce))
        {
            return TokenValidationResult.Invalid(
                ReasonCode.NonceUnknownOrReused, "the nonce was not issued by this broker, has expired or was already used");
        }

        return TokenValidationResult.Valid(new ValidatedToken(validated.Claims, issuer, effectiveNonce));
    }

    private async ValueTask<JwtValidated> ValidateSignedAsync(string token, string issuer, CancellationToken cancellationToken)
    {
        JwkSet keys = await _keys.GetKeysAsync(issuer, refresh: false, cancellationToken).ConfigureAwait(false);
        try
        {
            return Jwt.Validate(token, Parameters(issuer, keys));
        }
        catch (JoseException e) when (e.Code == JoseError.UnknownKey)
        {
            keys = await _keys.GetKeysAsync(issuer, refresh: true, cancellationToken).ConfigureAwait(false);
            return Jwt.Validate(token, Parameters(issuer, keys));
        }
    }

    private JwtValidationParameters Parameters(string issuer, JwkSet keys) => new()
    {
        ValidIssuers = [issuer],
        KeyResolver = kid => kid is null ? null : keys.Find(kid),
        ValidAudiences = _options.Audience is null ? null : [_options.Audience],
        AllowedAlgorithms = s_algorithms,
        ClockSkew = _options.ClockSkew,
        MaxLifetime = _options.MaxLifetime,
        Time = _options.Time,
    };

    private ReasonCode MapJoseError(JoseError error, string token) => error switch
    {
        JoseError.Expired => ReasonCode.TokenExpired,
        JoseError.NotYetValid => ReasonCode.TokenNotYetValid,
        JoseError.WrongIssuer => ReasonCode.WrongIssuer,
        JoseError.WrongAudience => ReasonCode.WrongAudience,
        JoseError.MissingClaim when _options.Audience is not null && LacksAudienceOnly(token) => ReasonCode.WrongAudience,
        _ => ReasonCode.TokenInvalid,
    };

    private static bool LacksAudienceOnly(string token)
    {
        JsonObject claims = Jwt.ReadUnverifiedClaims(token);
        return claims.ContainsKey("exp") && (claims.ContainsKey("iat") || claims.ContainsKey("nbf")) && !claims.ContainsKey("aud");
    }

    private static string? GetString(JsonObject obj, string name) =>
        obj.TryGetPropertyValue(name, out JsonNode? node) && node is JsonValue value && value.GetValueKind() == JsonValueKind.String
            ? value.GetValue<string>()
            : null;

    private static string Clip(string text) => text.Length > 128 ? text[..128] + "..." : text;
}
