// Runtime data (docs/formats.md section 3): UTF-8 JSON produced by the enclave and bound to the evidence by
// report data = SHA-512 of its exact bytes.
//   {"keys":[<enc JWK>,<sig JWK>],"nonce":"<broker nonce>","round":"<round id>","secagg":<JWK>}
using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Unicode;
using Enclave.Crypto;

namespace Enclave.AttestationVerifier.Appraisal;

/// <summary>Runtime data that has the shape of section 3. Its binding to evidence is checked by appraisal.</summary>
public sealed class RuntimeData
{
    /// <summary>Upper bound on runtime data bytes; real runtime data is well under 2 KiB.</summary>
    public const int MaxLength = 64 * 1024;

    public const int MaxNonceLength = 512;
    public const int MaxKeys = 16;

    private const string P256 = "P-256";

    private static readonly JsonDocumentOptions s_documentOptions = new()
    {
        AllowDuplicateProperties = false,
        AllowTrailingCommas = false,
        CommentHandling = JsonCommentHandling.Disallow,
        MaxDepth = 16,
    };

    private readonly JsonObject _json;

    private RuntimeData(JsonObject json, string nonce, string? round, Jwk encryptionKey, Jwk signingKey, Jwk? secureAggregationKey)
    {
        _json = json;
        Nonce = nonce;
        Round = round;
        EncryptionKey = encryptionKey;
        SigningKey = signingKey;
        SecureAggregationKey = secureAggregationKey;
    }

    /// <summary>The JSON object as parsed; callers receive a copy.</summary>
    public JsonObject Json => (JsonObject)_json.DeepClone();

    public string Nonce { get; }

    public string? Round { get; }

    /// <summary>The first <c>use: enc</c> key of the top-level <c>keys</c>: the key the broker wraps data keys to.</summary>
    public Jwk EncryptionKey { get; }

    /// <summary>The first <c>use: sig</c> key of the top-level <c>keys</c>.</summary>
    public Jwk SigningKey { get; }

    public Jwk? SecureAggregationKey { get; }

    /// <summary>Parses runtime data; returns false with a reason when it does not have the shape of section 3.</summary>
    public static bool TryParse(ReadOnlySpan<byte> utf8Json, out RuntimeData? runtimeData, out string error)
    {
        runtimeData = null;
        if (utf8Json.Length == 0 || utf8Json.Length > MaxLength)
        {
            error = $"runtime data is {utf8Json.Length} bytes; it must be 1..{MaxLength}";
            return false;
        }

        if (!Utf8.IsValid(utf8Json))
        {
            error = "runtime data is not valid UTF-8";
            return false;
        }

        JsonObject? json;
        try
        {
            json = JsonNode.Parse(utf8Json, nodeOptions: null, s_documentOptions) as JsonObject;
            _ = json?.Count;
        }
        catch (Exception ex) when (ex is JsonException or InvalidOperationException)
        {
            error = $"runtime data is not UTF-8 JSON: {ex.Message}";
            return false;
        }

        if (json is null)
        {
            error = "runtime data is not a JSON object";
            return false;
        }

        if (!JsonText.IsValid(json))
        {
            error = "runtime data holds a string with an unpaired surrogate";
            return false;
        }

        if (!TryGetString(json, "nonce", required: true, MaxNonceLength, out string? nonce, out error)
            || !TryGetString(json, "round", required: false, MaxNonceLength, out string? round, out error))
        {
            return false;
        }

        if (json["keys"] is not JsonArray keys || keys.Count == 0 || keys.Count > MaxKeys)
        {
            error = $"runtime data 'keys' must be an array of 1..{MaxKeys} JWKs";
            return false;
        }

        Jwk? encryptionKey = null;
        Jwk? signingKey = null;
        for (int i = 0; i < keys.Count; i++)
        {
            if (!TryParseP256PublicKey(keys[i], $"keys[{i}]", out Jwk? key, out error))
            {
                return false;
            }

            if (string.Equals(key!.Use, "enc", StringComparison.Ordinal))
            {
                encryptionKey ??= key;
            }
            else if (string.Equals(key.Use, "sig", StringComparison.Ordinal))
            {
                signingKey ??= key;
            }
        }

        if (encryptionKey is null || signingKey is null)
        {
            error = "runtime data 'keys' must hold a 'use: enc' and a 'use: sig' key";
            return false;
        }

        Jwk? secureAggregationKey = null;
        if (json.TryGetPropertyValue("secagg", out JsonNode? secagg)
            && !TryParseP256PublicKey(secagg, "secagg", out secureAggregationKey, out error))
        {
            return false;
        }

        runtimeData = new RuntimeData(json, nonce!, round, encryptionKey, signingKey, secureAggregationKey);
        error = string.Empty;
        return true;
    }

    private static bool TryGetString(JsonObject json, string name, bool required, int maxLength, out string? value, out string error)
    {
        value = null;
        error = string.Empty;
        if (!json.TryGetPropertyValue(name, out JsonNode? node))
        {
            if (required)
            {
                error = $"runtime data has no '{name}'";
                return false;
            }

            return true;
        }

        if (node is not JsonValue jsonValue || !jsonValue.TryGetValue(out string? text) || text.Length == 0 || text.Length > maxLength)
        {
            error = $"runtime data '{name}' must be a string of 1..{maxLength} characters";
            return false;
        }

        value = text;
        return true;
    }

    private static bool TryParseP256PublicKey(JsonNode? node, string path, out Jwk? key, out string error)
    {
        key = null;
        if (node is not JsonObject jwk)
        {
            error = $"runtime data '{path}' is not a JWK object";
            return false;
        }

        if (jwk.ContainsKey("d"))
        {
            error = $"runtime data '{path}' holds private key material";
            return false;
        }

        try
        {
            key = Jwk.Parse(jwk.ToJsonString());
        }
        catch (Exception ex) when (ex is JoseException or JsonException or FormatException or ArgumentException)
        {
            error = $"runtime data '{path}' is not a valid JWK: {ex.Message}";
            return false;
        }

        if (!string.Equals(key.Kty, "EC", StringComparison.Ordinal) || !string.Equals(key.Crv, P256, StringComparison.Ordinal))
        {
            error = $"runtime data '{path}' is not an EC P-256 key";
            key = null;
            return false;
        }

        error = string.Empty;
        return true;
    }
}
