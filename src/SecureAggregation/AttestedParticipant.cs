// A secure-aggregation participant as its attestation token describes it. Peers and the coordinator accept a
// participant only through this type: the token must be genuine (issuer and keys of the trusted verifier), not
// debug, of an allowed measurement and region, and it must carry the signing and mask-agreement keys.
using System.Security.Cryptography;
using System.Text.Json.Nodes;
using Enclave.Crypto;

namespace Enclave.SecureAggregation;

public sealed class ParticipantRejectedException : Exception
{
    public ParticipantRejectedException(string code, string message)
        : base(message)
    {
        Code = code;
    }

    public string Code { get; }
}

/// <param name="RequiredSpecification">When set, the token's runtime data must bind this round specification
/// (lower-case hex SHA-256, the runtime data's "spec" member); a participant attested for another specification is
/// refused.</param>
public sealed record ParticipantPolicy(
    IReadOnlyCollection<string> AllowedMeasurements,
    IReadOnlyCollection<string> AllowedRegions,
    bool AllowSimulated,
    string? RequiredSpecification = null);

public sealed class AttestedParticipant
{
    private AttestedParticipant(string tokenId, string region, string measurement, bool simulated, Jwk signingKey)
    {
        TokenId = tokenId;
        Region = region;
        Measurement = measurement;
        Simulated = simulated;
        SigningKey = signingKey;
    }

    public string TokenId { get; }

    public string Region { get; }

    public string Measurement { get; }

    public bool Simulated { get; }

    public Jwk SigningKey { get; }

    /// <exception cref="ParticipantRejectedException">The token is not acceptable; the code names why.</exception>
    public static AttestedParticipant FromToken(string token, JwtValidationParameters validation, ParticipantPolicy policy)
    {
        ArgumentNullException.ThrowIfNull(validation);
        ArgumentNullException.ThrowIfNull(policy);
        JsonObject claims;
        try
        {
            claims = Jwt.Validate(token, validation).Claims;
        }
        catch (JoseException ex)
        {
            throw new ParticipantRejectedException("TokenInvalid", $"attestation token rejected ({ex.Code}): {ex.Message}");
        }

        string tokenId = RequireString(claims, "jti");
        string region = RequireString(claims, "x-enclave-region");
        string measurement = RequireString(claims, "x-ms-sgx-mrenclave");
        bool simulated = claims["x-enclave-simulated"] is JsonValue sim && sim.TryGetValue(out bool s) && s;
        if (claims["x-ms-sgx-is-debuggable"] is not JsonValue debugValue || !debugValue.TryGetValue(out bool debug) || debug)
        {
            throw new ParticipantRejectedException("DebugNotAllowed", $"participant {tokenId} is a debug enclave or does not say it is not");
        }

        if (simulated && !policy.AllowSimulated)
        {
            throw new ParticipantRejectedException("SimulatedNotAllowed", $"participant {tokenId} runs a SIMULATED enclave, which this round does not allow");
        }

        if (!policy.AllowedMeasurements.Contains(measurement, StringComparer.OrdinalIgnoreCase))
        {
            throw new ParticipantRejectedException("MeasurementNotAllowed", $"participant {tokenId} runs measurement {measurement}, which is not allowed");
        }

        if (!policy.AllowedRegions.Contains(region, StringComparer.Ordinal))
        {
            throw new ParticipantRejectedException("RegionNotAllowed", $"participant {tokenId} is in region {region}, which is not in this round");
        }

        if (claims["x-ms-runtime"] is not JsonObject runtime)
        {
            throw new ParticipantRejectedException("RuntimeDataInvalid", $"participant {tokenId} has no runtime data");
        }

        if (policy.RequiredSpecification is { } required
            && !(runtime["spec"] is JsonValue spec && spec.TryGetValue(out string? specText) && string.Equals(specText, required, StringComparison.Ordinal)))
        {
            throw new ParticipantRejectedException("SpecificationMismatch", $"participant {tokenId} is attested for another round specification");
        }

        Jwk? signing = null;
        if (runtime["keys"] is JsonArray keys)
        {
            foreach (JsonNode? key in keys)
            {
                if (key is JsonObject k && k["use"] is JsonValue use && use.TryGetValue(out string? useText) && useText == "sig")
                {
                    signing = ParseKey(k, tokenId);
                    break;
                }
            }
        }

        if (signing is null)
        {
            throw new ParticipantRejectedException("RuntimeDataInvalid", $"participant {tokenId} token lacks its signing key");
        }

        return new AttestedParticipant(tokenId, region, measurement, simulated, signing);
    }

    public bool VerifySignature(string kind, ReadOnlySpan<byte> payload, ReadOnlySpan<byte> signature)
    {
        using ECDsa key = SigningKey.CreateECDsa();
        return MessageSignature.Verify(key, kind, payload, signature);
    }

    private static Jwk ParseKey(JsonObject node, string tokenId)
    {
        try
        {
            Jwk jwk = Jwk.Parse(node.ToJsonString());
            if (jwk.Kty != "EC" || jwk.Crv != "P-256")
            {
                throw new ParticipantRejectedException("RuntimeDataInvalid", $"participant {tokenId} key is not EC P-256");
            }

            return jwk;
        }
        catch (JoseException ex)
        {
            throw new ParticipantRejectedException("RuntimeDataInvalid", $"participant {tokenId} key is malformed: {ex.Message}");
        }
    }

    private static string RequireString(JsonObject claims, string name)
    {
        if (claims[name] is JsonValue value && value.TryGetValue(out string? s) && !string.IsNullOrEmpty(s))
        {
            return s;
        }

        throw new ParticipantRejectedException("TokenInvalid", $"attestation token lacks claim {name}");
    }
}
