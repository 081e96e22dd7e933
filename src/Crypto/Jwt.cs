// JSON Web Token (RFC 7519) as a compact JWS (RFC 7515) signed with ES256/ES384. Validation requires
// "iss" (exact, ordinal) and "exp"; "nbf" and "iat" are checked when present; NumericDate values are
// JSON numbers of seconds since 1970-01-01T00:00:00Z (RFC 7519 section 2) within years 1970..9999.

using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Enclave.Crypto;

/// <summary>What <see cref="Jwt.Validate"/> accepts.</summary>
public sealed class JwtValidationParameters
{
    /// <summary>Accepted "iss" values, compared exactly (ordinal).</summary>
    public required IReadOnlyCollection<string> ValidIssuers { get; init; }

    /// <summary>Maps the header kid to the issuer's verification key; see <see cref="Jws.Verify"/>.</summary>
    public required Func<string?, Jwk?> KeyResolver { get; init; }

    /// <summary>Null: "aud" is not checked. Otherwise "aud" (a string or an array of strings) is required
    /// and must contain one of these values (ordinal).</summary>
    public IReadOnlyCollection<string>? ValidAudiences { get; init; }

    /// <summary>Accepted alg values; null means ES256 only.</summary>
    public IReadOnlyCollection<string>? AllowedAlgorithms { get; init; }

    /// <summary>Tolerance applied to exp, nbf and iat.</summary>
    public TimeSpan ClockSkew { get; init; } = TimeSpan.FromSeconds(60);

    /// <summary>When set, exp − min(iat, nbf) must not exceed it, and iat or nbf is required.</summary>
    public TimeSpan? MaxLifetime { get; init; }

    public TimeProvider Time { get; init; } = TimeProvider.System;
}

/// <summary>A JWT whose signature and registered claims were checked.</summary>
public sealed record JwtValidated(JsonObject Header, JsonObject Claims);

/// <summary>Issues and validates JWTs carried in compact JWS.</summary>
public static class Jwt
{
    private const double MaxNumericDate = 253402300799;

    /// <summary>Serialises the claims and signs them (typ "JWT").</summary>
    /// <exception cref="JoseException">The key is not on P-256 or P-384 (<see cref="JoseError.UnsupportedKey"/>).</exception>
    public static string Issue(JsonObject claims, ECDsa key, string? kid)
    {
        ArgumentNullException.ThrowIfNull(claims);
        ArgumentNullException.ThrowIfNull(key);
        byte[] payload = Encoding.UTF8.GetBytes(claims.ToJsonString());
        return Jws.Sign(payload, key, kid, "JWT");
    }

    /// <summary>Verifies the signature, then iss, exp, nbf, iat, lifetime and aud, in that order.</summary>
    /// <exception cref="JoseException">The first fault found; <see cref="JoseException.Code"/> names it.</exception>
    public static JwtValidated Validate(string token, JwtValidationParameters parameters)
    {
        ArgumentNullException.ThrowIfNull(token);
        CheckParameters(parameters);
        return ValidateCore(token, parameters);
    }

    /// <summary>As <see cref="Validate(string, JwtValidationParameters)"/>, for a token already read with <see cref="CompactJws.Parse(string)"/>.</summary>
    /// <exception cref="JoseException">The first fault found; <see cref="JoseException.Code"/> names it.</exception>
    public static JwtValidated Validate(CompactJws token, JwtValidationParameters parameters)
    {
        ArgumentNullException.ThrowIfNull(token);
        CheckParameters(parameters);
        return ValidateCore(token, parameters);
    }

    private static void CheckParameters(JwtValidationParameters parameters)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        ArgumentNullException.ThrowIfNull(parameters.ValidIssuers);
        ArgumentNullException.ThrowIfNull(parameters.KeyResolver);
        ArgumentNullException.ThrowIfNull(parameters.Time);
        ArgumentOutOfRangeException.ThrowIfLessThan(parameters.ClockSkew, TimeSpan.Zero);
    }

    /// <summary>Decodes the claims WITHOUT checking the signature or any claim: for display and audit only.</summary>
    /// <exception cref="JoseException">The token is not a compact JWS with a JSON object header and payload (<see cref="JoseError.Malformed"/>).</exception>
    public static JsonObject ReadUnverifiedClaims(string token)
    {
        ArgumentNullException.ThrowIfNull(token);
        return JsonObject.Create(CompactJws.Parse(token).ParsePayloadObject())!;
    }

    private static JwtValidated ValidateCore(string token, JwtValidationParameters parameters)
    {
        if (token.Length > Jws.MaxTokenLength)
        {
            throw new JoseException(JoseError.Malformed, $"The JWS is longer than {Jws.MaxTokenLength} characters.");
        }

        return ValidateCore(CompactJws.Parse(token), parameters);
    }

    private static JwtValidated ValidateCore(CompactJws token, JwtValidationParameters parameters)
    {
        JwsVerified verified = Jws.Verify(token, parameters.KeyResolver, parameters.AllowedAlgorithms);
        string? typ = token.GetHeaderString("typ");
        if (typ is not null
            && !typ.Equals("JWT", StringComparison.OrdinalIgnoreCase)
            && !typ.Equals("application/jwt", StringComparison.OrdinalIgnoreCase))
        {
            throw new JoseException(JoseError.Malformed, $"The token type \"{typ}\" is not JWT.");
        }

        JsonObject claims = JsonObject.Create(token.ParsePayloadObject())!;

        string issuer = JoseJson.GetOptionalString(claims, "iss", "JWT claims set")
            ?? throw new JoseException(JoseError.MissingClaim, "The JWT has no \"iss\" claim.");
        if (!ContainsOrdinal(parameters.ValidIssuers, issuer))
        {
            throw new JoseException(JoseError.WrongIssuer, $"The issuer \"{issuer}\" is not trusted.");
        }

        double now = parameters.Time.GetUtcNow().ToUnixTimeMilliseconds() / 1000.0;
        double skew = parameters.ClockSkew.TotalSeconds;
        double expires = GetNumericDate(claims, "exp")
            ?? throw new JoseException(JoseError.MissingClaim, "The JWT has no \"exp\" claim.");
        double? notBefore = GetNumericDate(claims, "nbf");
        double? issuedAt = GetNumericDate(claims, "iat");

        if (now - skew >= expires)
        {
            throw new JoseException(JoseError.Expired, $"The JWT expired at {Format(expires)}.");
        }

        if (notBefore is double nbf && now + skew < nbf)
        {
            throw new JoseException(JoseError.NotYetValid, $"The JWT is not valid before {Format(nbf)}.");
        }

        if (issuedAt is double iat && now + skew < iat)
        {
            throw new JoseException(JoseError.NotYetValid, $"The JWT was issued in the future, at {Format(iat)}.");
        }

        if (parameters.MaxLifetime is TimeSpan maxLifetime)
        {
            double? start = (issuedAt, notBefore) switch
            {
                (double a, double b) => Math.Min(a, b),
                (double a, null) => a,
                (null, double b) => b,
                _ => null,
            };
            if (start is null)
            {
                throw new JoseException(JoseError.MissingClaim, "The JWT has neither \"iat\" nor \"nbf\", so its lifetime is unknown.");
            }

            double lifetime = expires - start.Value;
            if (lifetime > maxLifetime.TotalSeconds)
            {
                throw new JoseException(
                    JoseError.LifetimeTooLong,
                    $"The JWT lifetime of {lifetime} s exceeds the maximum of {maxLifetime.TotalSeconds} s.");
            }
        }

        if (parameters.ValidAudiences is { } audiences)
        {
            CheckAudience(claims, audiences);
        }

        return new JwtValidated(verified.Header, claims);
    }

    private static void CheckAudience(JsonObject claims, IReadOnlyCollection<string> audiences)
    {
        if (!claims.TryGetPropertyValue("aud", out JsonNode? node) || node is null)
        {
            throw new JoseException(JoseError.MissingClaim, "The JWT has no \"aud\" claim.");
        }

        var values = new List<string>();
        if (node is JsonValue single && single.GetValueKind() == JsonValueKind.String)
        {
            values.Add(single.GetValue<string>());
        }
        else if (node is JsonArray array)
        {
            foreach (JsonNode? item in array)
            {
                if (item is not JsonValue value || value.GetValueKind() != JsonValueKind.String)
                {
                    throw new JoseException(JoseError.Malformed, "The \"aud\" claim array must hold only strings.");
                }

                values.Add(value.GetValue<string>());
            }
        }
        else
        {
            throw new JoseException(JoseError.Malformed, "The \"aud\" claim must be a string or an array of strings.");
        }

        foreach (string value in values)
        {
            if (ContainsOrdinal(audiences, value))
            {
                return;
            }
        }

        throw new JoseException(
            JoseError.WrongAudience,
            $"The audience [{string.Join(", ", values)}] contains none of the accepted audiences.");
    }

    private static double? GetNumericDate(JsonObject claims, string name)
    {
        if (!claims.TryGetPropertyValue(name, out JsonNode? node))
        {
            return null;
        }

        if (node is not JsonValue value || value.GetValueKind() != JsonValueKind.Number)
        {
            throw new JoseException(JoseError.Malformed, $"The \"{name}\" claim must be a NumericDate (a JSON number).");
        }

        if (!value.TryGetValue(out double seconds) || !double.IsFinite(seconds) || seconds < 0 || seconds > MaxNumericDate)
        {
            throw new JoseException(JoseError.Malformed, $"The \"{name}\" claim is outside the supported date range.");
        }

        return seconds;
    }

    private static bool ContainsOrdinal(IReadOnlyCollection<string> values, string candidate)
    {
        foreach (string value in values)
        {
            if (string.Equals(value, candidate, StringComparison.Ordinal))
            {
                return true;
            }
        }

        return false;
    }

    private static string Format(double seconds) =>
        DateTimeOffset.FromUnixTimeMilliseconds((long)(seconds * 1000)).ToString("O", System.Globalization.CultureInfo.InvariantCulture);
}
