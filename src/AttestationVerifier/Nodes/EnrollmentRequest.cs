// Enrolment request: a compact JWS (RFC 7515, ES256, header typ "enclave-enrollment+jws", kid = RFC 7638
// thumbprint of the security-team key) over the UTF-8 JSON
//   {"platformId":"<64 lower-case hex>","region":"<^[a-z0-9-]{1,64}$>","iat":<unix seconds>[,"replace":true]}
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using System.Text.Unicode;
using Enclave.AttestationVerifier.Endorsements;
using Enclave.Crypto;

namespace Enclave.AttestationVerifier.Nodes;

/// <summary>Creates and reads the signed requests with which a security team enrols a platform in a region.</summary>
public static partial class EnrollmentRequest
{
    public const string MediaType = "enclave-enrollment+jws";
    public const int MaxRegionLength = 64;

    /// <summary>Upper bound on a compact enrolment JWS, far above any real one.</summary>
    public const int MaxLength = 16 * 1024;

    /// <summary>How far <c>iat</c> may be from the verifier's clock, in either direction.</summary>
    public static readonly TimeSpan MaxAge = TimeSpan.FromMinutes(5);

    private static readonly JsonDocumentOptions s_documentOptions = new()
    {
        AllowDuplicateProperties = false,
        MaxDepth = 4,
    };

    /// <summary>Signs an enrolment of <paramref name="platformId"/> in <paramref name="region"/>.</summary>
    /// <param name="replace">Must be true to move a platform that is enrolled in another region.</param>
    /// <returns>The compact JWS to send to the verifier.</returns>
    /// <exception cref="ArgumentException">The key is not ECDSA P-256, or the platform id or region is malformed.</exception>
    public static string Create(ECDsa securityTeamKey, string platformId, string region, bool replace = false, TimeProvider? timeProvider = null)
    {
        ArgumentNullException.ThrowIfNull(securityTeamKey);
        ArgumentNullException.ThrowIfNull(platformId);
        ArgumentNullException.ThrowIfNull(region);
        if (!CertificateKeys.IsP256(securityTeamKey))
        {
            throw new ArgumentException("the security-team key must be ECDSA P-256", nameof(securityTeamKey));
        }

        if (!PlatformId.IsWellFormed(platformId))
        {
            throw new ArgumentException("a platform id is 64 lower-case hex digits", nameof(platformId));
        }

        if (!IsValidRegion(region))
        {
            throw new ArgumentException($"a region matches ^[a-z0-9-]{{1,{MaxRegionLength}}}$", nameof(region));
        }

        long iat = (timeProvider ?? TimeProvider.System).GetUtcNow().ToUnixTimeSeconds();
        JsonObject payload = new()
        {
            ["platformId"] = platformId,
            ["region"] = region,
            ["iat"] = iat,
        };
        if (replace)
        {
            payload["replace"] = true;
        }

        string kid = KeyThumbprint(securityTeamKey);
        return Jws.Sign(Encoding.UTF8.GetBytes(payload.ToJsonString()), securityTeamKey, kid, MediaType);
    }

    public static bool IsValidRegion(string? region) => region is not null && RegionPattern().IsMatch(region);

    /// <summary>RFC 7638 thumbprint of the public part of <paramref name="key"/>.</summary>
    public static string KeyThumbprint(ECDsa key)
    {
        ArgumentNullException.ThrowIfNull(key);
        return Jwk.FromEcPublic(key.ExportParameters(includePrivateParameters: false), null, null).ComputeThumbprint();
    }

    internal static bool TryReadPayload(ReadOnlySpan<byte> payload, out EnrollmentPayload? result, out EnrollmentError error, out string message)
    {
        result = null;
        error = EnrollmentError.Malformed;
        if (!Utf8.IsValid(payload))
        {
            message = "the enrolment payload is not valid UTF-8";
            return false;
        }

        JsonObject? json;
        try
        {
            json = JsonNode.Parse(payload, nodeOptions: null, s_documentOptions) as JsonObject;
            _ = json?.Count;
        }
        catch (Exception ex) when (ex is JsonException or InvalidOperationException)
        {
            message = $"the enrolment payload is not JSON: {ex.Message}";
            return false;
        }

        if (json is null)
        {
            message = "the enrolment payload is not a JSON object";
            return false;
        }

        if (!JsonText.IsValid(json))
        {
            message = "the enrolment payload holds a string with an unpaired surrogate";
            return false;
        }

        foreach (KeyValuePair<string, JsonNode?> member in json)
        {
            if (member.Key is not ("platformId" or "region" or "iat" or "replace"))
            {
                message = $"the enrolment payload has an unknown member '{member.Key}'";
                return false;
            }
        }

        if (json["platformId"] is not JsonValue platformNode || !platformNode.TryGetValue(out string? platformId))
        {
            message = "the enrolment payload has no string 'platformId'";
            return false;
        }

        if (json["region"] is not JsonValue regionNode || !regionNode.TryGetValue(out string? region))
        {
            message = "the enrolment payload has no string 'region'";
            return false;
        }

        if (json["iat"] is not JsonValue iatNode || iatNode.GetValueKind() != JsonValueKind.Number || !iatNode.TryGetValue(out long iat))
        {
            message = "the enrolment payload has no integer 'iat'";
            return false;
        }

        bool replace = false;
        if (json.TryGetPropertyValue("replace", out JsonNode? replaceNode)
            && (replaceNode is not JsonValue replaceValue || !replaceValue.TryGetValue(out replace)))
        {
            message = "the enrolment payload 'replace' is not a boolean";
            return false;
        }

        if (!PlatformId.IsWellFormed(platformId))
        {
            error = EnrollmentError.InvalidPlatformId;
            message = "the platform id is not 64 lower-case hex digits";
            return false;
        }

        if (!IsValidRegion(region))
        {
            error = EnrollmentError.InvalidRegion;
            message = $"the region does not match ^[a-z0-9-]{{1,{MaxRegionLength}}}$";
            return false;
        }

        result = new EnrollmentPayload(platformId, region, iat, replace);
        message = string.Empty;
        return true;
    }

    [GeneratedRegex(@"^[a-z0-9-]{1,64}\z", RegexOptions.CultureInvariant, matchTimeoutMilliseconds: 1000)]
    private static partial Regex RegionPattern();
}

internal sealed record EnrollmentPayload(string PlatformId, string Region, long IssuedAt, bool Replace);
