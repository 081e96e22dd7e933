// A node enrolment for the audit log: the security team's compact JWS (ES256, typ "enclave-enrollment+jws",
// kid = RFC 7638 thumbprint of the team key) over {"platformId":"<64 hex>","region":"<[a-z0-9-]{1,64}>",
// "iat":<Unix s>[,"replace":true]}, the same bytes the attestation verifier enrols from. The broker checks
// the signature against the team keys it was configured with and records the verified fields and the JWS.
using System.Text.Json;
using System.Text.Json.Nodes;
using Enclave.Crypto;

namespace Enclave.KeyBroker.Audit;

public static class NodeEnrollmentRecord
{
    public const string JwsType = "enclave-enrollment+jws";
    public const int MaxLength = 16 * 1024;

    private static readonly string[] s_algorithms = ["ES256"];

    /// <summary>The audit body for a signed enrolment, or an exception naming what is wrong.</summary>
    /// <exception cref="FormatException">The JWS is too long, does not verify with any of
    /// <paramref name="teamKeys"/>, is not an enrolment, or its payload is malformed.</exception>
    public static JsonObject CreateBody(string signedEnrollment, IReadOnlyCollection<Jwk> teamKeys)
    {
        ArgumentNullException.ThrowIfNull(teamKeys);
        if (string.IsNullOrEmpty(signedEnrollment) || signedEnrollment.Length > MaxLength)
        {
            throw new FormatException($"the signed enrolment is empty or longer than {MaxLength} characters");
        }

        Dictionary<string, Jwk> keys = teamKeys.ToDictionary(k => k.ComputeThumbprint(), StringComparer.Ordinal);
        JwsVerified verified;
        try
        {
            verified = Jws.Verify(signedEnrollment, kid => kid is not null && keys.TryGetValue(kid, out Jwk? key) ? key : null, s_algorithms);
        }
        catch (JoseException e)
        {
            throw new FormatException($"the enrolment is not signed by a configured security-team key ({e.Code}: {e.Message})", e);
        }

        if (verified.Header["typ"] is not JsonValue typ || typ.GetValueKind() != JsonValueKind.String || typ.GetValue<string>() != JwsType)
        {
            throw new FormatException($"the JWS is not an enrolment (typ must be \"{JwsType}\")");
        }

        try
        {
            using JsonDocument document = JsonDocument.Parse(verified.Payload, new JsonDocumentOptions { MaxDepth = 4 });
            JsonElement root = document.RootElement;
            string platformId = root.GetProperty("platformId").GetString() ?? string.Empty;
            string region = root.GetProperty("region").GetString() ?? string.Empty;
            long iat = root.GetProperty("iat").GetInt64();
            bool replace = root.TryGetProperty("replace", out JsonElement r) && r.GetBoolean();
            if (platformId.Length != 64 || !platformId.All(char.IsAsciiHexDigitLower)
                || region.Length is 0 or > 64 || !region.All(c => char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c) || c == '-'))
            {
                throw new FormatException("the enrolment's platformId or region is malformed");
            }

            return new JsonObject
            {
                ["platformId"] = platformId,
                ["region"] = region,
                ["iat"] = iat,
                ["replace"] = replace,
                ["teamKey"] = verified.Kid,
                ["signedEnrollment"] = signedEnrollment,
            };
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException)
        {
            throw new FormatException("the enrolment payload is not {platformId, region, iat[, replace]}", e);
        }
    }
}
