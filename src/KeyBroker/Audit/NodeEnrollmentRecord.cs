// A node enrolment for the audit log: the security team's compact JWS (ES256, typ "enclave-enrollment+jws",
// kid = RFC 7638 thumbprint of the team key) over {"platformId":"<64 hex>","region":"<[a-z0-9-]{1,64}>",
// "iat":<Unix s>,"jti":"<[A-Za-z0-9_-]{16,64}>","seq":<1..2^53-1>[,"replace":true]} (docs/formats.md
// section 12), the same bytes the attestation verifier enrols from. The broker checks the signature against the
// team keys it was configured with and records the verified fields and the JWS, each jti at most once and a
// platform's enrolments only in increasing seq (Record), so a captured enrolment cannot be recorded twice or
// after a later one, as the verifier cannot apply it twice or after a later one.
using System.Text.Json;
using System.Text.Json.Nodes;
using Enclave.Crypto;
using Enclave.KeyBroker.Storage;

namespace Enclave.KeyBroker.Audit;

public static class NodeEnrollmentRecord
{
    public const string JwsType = "enclave-enrollment+jws";
    public const int MaxLength = 16 * 1024;

    /// <summary>The largest <c>seq</c>, 2^53 - 1 (as the verifier's).</summary>
    public const long MaxSequence = (1L << 53) - 1;

    private static readonly string[] s_algorithms = ["ES256"];
    private static readonly JsonDocumentOptions s_documentOptions = new() { MaxDepth = 4, AllowDuplicateProperties = false };

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
            using JsonDocument document = JsonDocument.Parse(verified.Payload, s_documentOptions);
            JsonElement root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                throw new FormatException("the enrolment payload is not a JSON object");
            }

            foreach (JsonProperty member in root.EnumerateObject())
            {
                if (member.Name is not ("platformId" or "region" or "iat" or "jti" or "seq" or "replace"))
                {
                    throw new FormatException($"the enrolment payload has an unknown member '{member.Name}'");
                }
            }

            string platformId = root.GetProperty("platformId").GetString() ?? string.Empty;
            string region = root.GetProperty("region").GetString() ?? string.Empty;
            long iat = root.GetProperty("iat").GetInt64();
            if (!root.TryGetProperty("jti", out JsonElement jtiElement) || jtiElement.ValueKind != JsonValueKind.String)
            {
                throw new FormatException("the enrolment payload has no string 'jti' (its unique id)");
            }

            string jti = jtiElement.GetString()!;
            if (!root.TryGetProperty("seq", out JsonElement seqElement) || seqElement.ValueKind != JsonValueKind.Number
                || !seqElement.TryGetInt64(out long seq) || seq is < 1 or > MaxSequence)
            {
                throw new FormatException($"the enrolment payload has no integer 'seq' in 1..{MaxSequence}");
            }

            bool replace = root.TryGetProperty("replace", out JsonElement r) && r.GetBoolean();
            if (platformId.Length != 64 || !platformId.All(char.IsAsciiHexDigitLower)
                || region.Length is 0 or > 64 || !region.All(c => char.IsAsciiLetterLower(c) || char.IsAsciiDigit(c) || c == '-'))
            {
                throw new FormatException("the enrolment's platformId or region is malformed");
            }

            if (jti.Length is < 16 or > 64 || !jti.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_'))
            {
                throw new FormatException("the enrolment's jti does not match ^[A-Za-z0-9_-]{16,64}$");
            }

            return new JsonObject
            {
                ["platformId"] = platformId,
                ["region"] = region,
                ["iat"] = iat,
                ["jti"] = jti,
                ["seq"] = seq,
                ["replace"] = replace,
                ["teamKey"] = verified.Kid,
                ["signedEnrollment"] = signedEnrollment,
            };
        }
        catch (Exception e) when (e is JsonException or KeyNotFoundException or InvalidOperationException)
        {
            throw new FormatException("the enrolment payload is not {platformId, region, iat, jti, seq[, replace]}", e);
        }
    }

    /// <summary>Appends the enrolment whose body <see cref="CreateBody"/> made, inside <paramref name="transaction"/>,
    /// unless its jti was recorded before or its platform has a recorded enrolment with a seq not lower: then
    /// nothing is written and the refusal is thrown.</summary>
    /// <exception cref="EnrollmentRefusedException">A replayed or superseded enrolment.</exception>
    public static AuditEntry Record(IKeyBrokerTransaction transaction, AuditLog audit, JsonObject body)
    {
        ArgumentNullException.ThrowIfNull(transaction);
        ArgumentNullException.ThrowIfNull(audit);
        ArgumentNullException.ThrowIfNull(body);
        string jti = body["jti"]!.GetValue<string>();
        string platformId = body["platformId"]!.GetValue<string>();
        long seq = body["seq"]!.GetValue<long>();
        EnrollmentRecording recording = transaction.TryRecordEnrollment(jti, platformId, seq);
        return recording switch
        {
            EnrollmentRecording.Recorded => audit.Append(transaction, AuditEntryKind.NodeEnrolled, body),
            EnrollmentRecording.Replayed => throw new EnrollmentRefusedException(recording, $"an enrolment with jti {jti} is already recorded"),
            _ => throw new EnrollmentRefusedException(recording, $"platform {platformId} already has a recorded enrolment with seq {seq} or higher"),
        };
    }
}
