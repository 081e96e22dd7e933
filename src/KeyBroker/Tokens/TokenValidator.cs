// Validation of attestation tokens (docs/formats.md section 4) in this order, each rejection with its own
// ReasonCode: size and shape (TokenInvalid); the header: no key-carrying member (jwk, jku, x5u, x5c, x5t,
// x5t#S256: KeyInTokenHeader), no crit/b64 (UnsupportedTokenHeader), alg ES256 or ES384 only (none,
// HMAC, RSA: AlgorithmNotAllowed); issuer among the configured verifiers (WrongIssuer); ECDSA r and s in
// [1, n - 1] (SignatureScalarInvalid); signature by the key of that issuer's published JWKS named by kid
// (UnknownSigningKey, SignatureInvalid, VerifierKeysUnavailable); exp, nbf, iat with bounded skew
// (TokenExpired, TokenNotYetValid); lifetime (TokenLifetimeTooLong); audience when configured
// (WrongAudience); then the nonce ("nonce", or "x-ms-runtime.nonce"; if both are present they must agree:
// NonceMismatch), which must have been issued by this broker (NonceMissing, NonceUnknownOrReused) and not
// have expired (NonceExpired). The nonce is consumed by the caller, in the write transaction that records
// the outcome (KeyBrokerService), so a token is accepted at most once (NonceReplayed).
using System.Text.Json;
using System.Text.Json.Nodes;
using Enclave.Crypto;
using Enclave.KeyBroker.Policy;

namespace Enclave.KeyBroker.Tokens;

public sealed class TokenValidator
{
    private static readonly string[] s_algorithms = ["ES256", "ES384"];
    private static readonly string[] s_keyCarryingHeaders = ["jwk", "jku", "x5u", "x5c", "x5t", "x5t#S256"];

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

        // One read of the token (Enclave.Crypto's CompactJws) serves every check below and the signature check.
        CompactJws jws;
        try
        {
            jws = CompactJws.Parse(token);
        }
        catch (JoseException e)
        {
            return TokenValidationResult.Invalid(ReasonCode.TokenInvalid, $"the token is not a compact JWS with a JSON object header: {e.Message}");
        }

        if (InspectHeader(jws) is TokenValidationResult headerProblem)
        {
            return headerProblem;
        }

        string issuer;
        try
        {
            JsonElement unverified = jws.ParsePayloadObject();
            if (!unverified.TryGetProperty(KnownClaims.Issuer, out JsonElement iss) || iss.ValueKind != JsonValueKind.String)
            {
                return TokenValidationResult.Invalid(ReasonCode.TokenInvalid, "the token has no \"iss\" string");
            }

            issuer = iss.GetString()!;
        }
        catch (JoseException e)
        {
            return TokenValidationResult.Invalid(ReasonCode.TokenInvalid, $"{e.Code}: {e.Message}");
        }

        if (!_issuers.ContainsKey(StaticVerifierKeySource.Normalize(issuer)))
        {
            return TokenValidationResult.Invalid(ReasonCode.WrongIssuer, $"the issuer \"{Clip(issuer)}\" is not a trusted verifier");
        }

        if (InspectSignatureScalars(jws) is TokenValidationResult scalarProblem)
        {
            return scalarProblem;
        }

        JwtValidated validated;
        try
        {
            validated = await ValidateSignedAsync(jws, issuer, cancellationToken).ConfigureAwait(false);
        }
        catch (VerifierKeysUnavailableException e)
        {
            return TokenValidationResult.Invalid(ReasonCode.VerifierKeysUnavailable, $"the verifier's keys are unavailable: {e.Message}");
        }
        catch (JoseException e)
        {
            return TokenValidationResult.Invalid(MapJoseError(e.Code, jws), $"{e.Code}: {e.Message}");
        }

        string? nonce = GetString(validated.Claims, KnownClaims.Nonce);
        string? runtimeNonce = validated.Claims[KnownClaims.Runtime] is JsonObject runtime ? GetString(runtime, KnownClaims.Nonce) : null;
        if (nonce is null && runtimeNonce is null)
        {
            return TokenValidationResult.Invalid(ReasonCode.NonceMissing, "the token carries no nonce");
        }

        if (nonce is not null && runtimeNonce is not null && !string.Equals(nonce, runtimeNonce, StringComparison.Ordinal))
        {
            return TokenValidationResult.Invalid(ReasonCode.NonceMismatch, "\"nonce\" and \"x-ms-runtime.nonce\" differ");
        }

        string effectiveNonce = (nonce ?? runtimeNonce)!;
        switch (_nonces.Check(effectiveNonce, _options.Time.GetUtcNow(), out DateTimeOffset nonceExpires))
        {
            case NonceStatus.Valid:
                return TokenValidationResult.Valid(new ValidatedToken(validated.Claims, issuer, effectiveNonce, nonceExpires));
            case NonceStatus.Expired:
                return TokenValidationResult.Invalid(ReasonCode.NonceExpired, "the nonce has expired");
            default:
                return TokenValidationResult.Invalid(ReasonCode.NonceUnknownOrReused, "the nonce was not issued by this broker");
        }
    }

    private async ValueTask<JwtValidated> ValidateSignedAsync(CompactJws token, string issuer, CancellationToken cancellationToken)
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

    private ReasonCode MapJoseError(JoseError error, CompactJws token) => error switch
    {
        JoseError.Expired => ReasonCode.TokenExpired,
        JoseError.NotYetValid => ReasonCode.TokenNotYetValid,
        JoseError.WrongIssuer => ReasonCode.WrongIssuer,
        JoseError.WrongAudience => ReasonCode.WrongAudience,
        JoseError.UnsupportedAlgorithm => ReasonCode.AlgorithmNotAllowed,
        JoseError.ForbiddenHeader => ReasonCode.UnsupportedTokenHeader,
        JoseError.UnknownKey => ReasonCode.UnknownSigningKey,
        JoseError.BadSignature or JoseError.UnsupportedKey => ReasonCode.SignatureInvalid,
        JoseError.LifetimeTooLong => ReasonCode.TokenLifetimeTooLong,
        JoseError.MissingClaim when _options.Audience is not null && LacksAudienceOnly(token) => ReasonCode.WrongAudience,
        _ => ReasonCode.TokenInvalid,
    };

    /// <summary>Checks the protected header before anything else is trusted: no key may come from the token
    /// itself, no extension may be critical, and only the allowed algorithms are considered.</summary>
    private static TokenValidationResult? InspectHeader(CompactJws token)
    {
        foreach (string name in s_keyCarryingHeaders)
        {
            if (token.HasHeader(name))
            {
                return TokenValidationResult.Invalid(ReasonCode.KeyInTokenHeader,
                    $"the token header carries \"{name}\"; keys are taken only from the configured verifiers' published key sets");
            }
        }

        if (token.HasHeader("crit") || token.HasHeader("b64"))
        {
            return TokenValidationResult.Invalid(ReasonCode.UnsupportedTokenHeader, "the token header has \"crit\" or \"b64\", which this broker does not understand");
        }

        // An alg that is not a string counts as missing.
        string? alg = token.TryGetHeaderString("alg", out string? value) ? value : null;
        if (alg is null || !s_algorithms.Contains(alg, StringComparer.Ordinal))
        {
            return TokenValidationResult.Invalid(ReasonCode.AlgorithmNotAllowed,
                $"the token's alg \"{Clip(alg ?? "(missing)")}\" is not allowed (ES256 and ES384 only; never none, HMAC or RSA)");
        }

        return null;
    }

    /// <summary>Refuses ECDSA signatures whose r or s is 0 or not below the curve order, before any
    /// verification (a verifier that skips this accepts r = s = 0 for every message: CVE-2022-21449).</summary>
    private static TokenValidationResult? InspectSignatureScalars(CompactJws token)
    {
        byte[] signature;
        try
        {
            signature = token.Signature;
        }
        catch (JoseException)
        {
            return TokenValidationResult.Invalid(ReasonCode.TokenInvalid, "the token's signature is not base64url");
        }

        return CompactJws.IsEcdsaScalarOutOfRange(signature)
            ? TokenValidationResult.Invalid(ReasonCode.SignatureScalarInvalid, "the ECDSA signature has r or s equal to zero or not below the curve order")
            : null;
    }

    private static bool LacksAudienceOnly(CompactJws token)
    {
        JsonElement claims = token.ParsePayloadObject();
        return claims.TryGetProperty("exp", out _)
            && (claims.TryGetProperty("iat", out _) || claims.TryGetProperty("nbf", out _))
            && !claims.TryGetProperty("aud", out _);
    }

    private static string? GetString(JsonObject obj, string name) =>
        obj.TryGetPropertyValue(name, out JsonNode? node) && node is JsonValue value && value.GetValueKind() == JsonValueKind.String
            ? value.GetValue<string>()
            : null;

    private static string Clip(string text) => text.Length > 128 ? text[..128] + "..." : text;
}
