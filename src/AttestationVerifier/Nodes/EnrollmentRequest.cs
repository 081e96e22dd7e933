// Enrolment request: a compact JWS (RFC 7515, ES256, header typ "enclave-enrollment+jws", kid = RFC 7638
// thumbprint of the security-team key) over the UTF-8 JSON (docs/formats.md section 12)
//   {"platformId":"<64 lower-case hex>","region":"<^[a-z0-9-]{1,64}$>","iat":<unix seconds>,
//    "jti":"<^[A-Za-z0-9_-]{16,64}$>","seq":<1..2^53-1>[,"replace":true]}
// jti is unique per enrolment and seq strictly increases per platform, so that a captured enrolment can be
// applied (by the verifier) and recorded (by the broker) at most once and never after a later one.
//
// Sequence choice: seq is the signer's clock in Unix milliseconds (raised to one more than the last value this
// process issued, so it strictly increases even when the clock stands still or steps back). It needs no state
// and no round trip: any member of the security team, on any machine, can sign the next enrolment of a
// platform without reading the current sequence first, and the order of enrolments is the order in which they
// were signed. The cost: two team members whose clocks differ by more than the time between their enrolments of
// the same platform see the later one refused as superseded (a typed, retryable error), never applied out of
// order. Readers accept any integer in range, so a team may choose another monotonic counter.
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

    /// <summary>The largest <c>seq</c>: 2^53 - 1, so that every JSON reader holds it exactly.</summary>
    public const long MaxSequence = (1L << 53) - 1;

    /// <summary>Bounds of the length of <c>jti</c> (base64url characters).</summary>
    public const int MinIdLength = 16;
    public const int MaxIdLength = 64;

    /// <summary>The last <c>seq</c> this process signed; see the file header.</summary>
    private static long s_lastSequence;

    private static readonly JsonDocumentOptions s_documentOptions = new()
    {
        AllowDuplicateProperties = false,
        MaxDepth = 4,
    };

    /// <summary>Signs an enrolment of <paramref name="platformId"/> in <paramref name="region"/>.</summary>
    /// <param name="replace">Must be true to move a platform that is enrolled in another region.</param>
    /// <param name="sequence">The platform's enrolment sequence number; null: the signer's clock in Unix
    /// milliseconds, raised above any this process issued (see the file header).</param>
    /// <param name="id">The enrolment's unique id (<c>jti</c>); null: 128 random bits, base64url.</param>
    /// <returns>The compact JWS to send to the verifier.</returns>
    /// <exception cref="ArgumentException">The key is not ECDSA P-256, or the platform id, region, sequence or id is malformed.</exception>
    public static string Create(ECDsa securityTeamKey, string platformId, string region, bool replace = false, TimeProvider? timeProvider = null, long? sequence = null, string? id = null)
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

        if (sequence is { } explicitSequence && !IsValidSequence(explicitSequence))
        {
            throw new ArgumentOutOfRangeException(nameof(sequence), $"an enrolment sequence is 1..{MaxSequence}");
        }

        if (id is not null && !IsValidId(id))
        {
            throw new ArgumentException($"an enrolment id matches ^[A-Za-z0-9_-]{{{MinIdLength},{MaxIdLength}}}$", nameof(id));
        }

        DateTimeOffset now = (timeProvider ?? TimeProvider.System).GetUtcNow();
        JsonObject payload = new()
        {
            ["platformId"] = platformId,
            ["region"] = region,
            ["iat"] = now.ToUnixTimeSeconds(),
            ["jti"] = id ?? Base64Url.Encode(RandomNumberGenerator.GetBytes(16)),
            ["seq"] = sequence ?? NextSequence(now),
        };
        if (replace)
        {
            payload["replace"] = true;
        }

        string kid = KeyThumbprint(securityTeamKey);
        return Jws.Sign(Encoding.UTF8.GetBytes(payload.ToJsonString()), securityTeamKey, kid, MediaType);
    }

    public static bool IsValidRegion(string? region) => region is not null && RegionPattern().IsMatch(region);

    public static bool IsValidSequence(long sequence) => sequence is >= 1 and <= MaxSequence;

    public static bool IsValidId(string? id) => id is { Length: >= MinIdLength and <= MaxIdLength } && id.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_');

    /// <summary>The signer's clock in Unix milliseconds, or one more than the last value issued when that is not
    /// greater (a clock that stands still or steps back must not repeat or lower a sequence).</summary>
    private static long NextSequence(DateTimeOffset now)
    {
        long clock = Math.Clamp(now.ToUnixTimeMilliseconds(), 1, MaxSequence);
        while (true)
        {
            long last = Volatile.Read(ref s_lastSequence);
            long next = Math.Min(Math.Max(clock, last + 1), MaxSequence);
            if (Interlocked.CompareExchange(ref s_lastSequence, next, last) == last)
            {
                return next;
            }
        }
    }

    /// <summary>RFC 7638 thumbprint of the public part of <paramref name="key"/>.</summary>
    public static string KeyThumbprint(ECDsa key)
    {
        ArgumentNullException.ThrowIfNull(key);
        return Jwk.FromEcPublic(key.ExportParameters(includePrivateParameters: false), null, null).ComputeThumbprint();
    }

    /// <param name="requireReplayFields">False only to re-read log entries accepted before enrolments carried
    /// <c>jti</c> and <c>seq</c>; every new enrolment must have both.</param>
    internal static bool TryReadPayload(ReadOnlySpan<byte> payload, out EnrollmentPayload? result, out EnrollmentError error, out string message, bool requireReplayFields = true)
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
            if (member.Key is not ("platformId" or "region" or "iat" or "jti" or "seq" or "replace"))
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

        string? id = null;
        if (json.TryGetPropertyValue("jti", out JsonNode? idNode))
        {
            if (idNode is not JsonValue idValue || idValue.GetValueKind() != JsonValueKind.String || !IsValidId(idValue.GetValue<string>()))
            {
                message = $"the enrolment payload 'jti' is not a string matching ^[A-Za-z0-9_-]{{{MinIdLength},{MaxIdLength}}}$";
                return false;
            }

            id = idValue.GetValue<string>();
        }
        else if (requireReplayFields)
        {
            message = "the enrolment payload has no 'jti' (its unique id)";
            return false;
        }

        long sequence = 0;
        if (json.TryGetPropertyValue("seq", out JsonNode? sequenceNode))
        {
            if (sequenceNode is not JsonValue sequenceValue || sequenceValue.GetValueKind() != JsonValueKind.Number
                || !sequenceValue.TryGetValue(out sequence) || !IsValidSequence(sequence))
            {
                message = $"the enrolment payload 'seq' is not an integer in 1..{MaxSequence}";
                return false;
            }
        }
        else if (requireReplayFields)
        {
            message = "the enrolment payload has no 'seq' (the platform's enrolment sequence number)";
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

        result = new EnrollmentPayload(platformId, region, iat, id, sequence, replace);
        message = string.Empty;
        return true;
    }

    [GeneratedRegex(@"^[a-z0-9-]{1,64}\z", RegexOptions.CultureInvariant, matchTimeoutMilliseconds: 1000)]
    private static partial Regex RegionPattern();
}

/// <param name="Id">The enrolment's <c>jti</c>; null only for a log entry from before enrolments carried one.</param>
/// <param name="Sequence">The enrolment's <c>seq</c>; 0 only for a log entry from before enrolments carried one.</param>
internal sealed record EnrollmentPayload(string PlatformId, string Region, long IssuedAt, string? Id, long Sequence, bool Replace);
