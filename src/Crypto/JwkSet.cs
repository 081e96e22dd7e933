// JSON Web Key Set (RFC 7517 section 5): {"keys":[...]}. Keys of a type or curve this library does not
// support are skipped, as RFC 7517 section 5 allows; any other fault in a key rejects the whole set,
// and so do two keys with the same "kid". At most 256 keys and 1 MiB of JSON.

using System.Text.Json;
using System.Text.Json.Nodes;

namespace Enclave.Crypto;

/// <summary>A JSON Web Key Set of public keys with unique kids.</summary>
public sealed class JwkSet
{
    public const int MaxKeys = 256;
    public const int MaxJsonLength = 1024 * 1024;

    private readonly Jwk[] _keys;

    /// <exception cref="ArgumentException">Two keys share a kid, or there are more than <see cref="MaxKeys"/>.</exception>
    public JwkSet(IEnumerable<Jwk> keys)
    {
        ArgumentNullException.ThrowIfNull(keys);
        Jwk[] array = keys.ToArray();
        if (array.Length > MaxKeys)
        {
            throw new ArgumentException($"A key set holds at most {MaxKeys} keys.", nameof(keys));
        }

        var kids = new HashSet<string>(StringComparer.Ordinal);
        foreach (Jwk key in array)
        {
            ArgumentNullException.ThrowIfNull(key, nameof(keys));
            if (key.Kid is not null && !kids.Add(key.Kid))
            {
                throw new ArgumentException($"The kid \"{key.Kid}\" appears more than once.", nameof(keys));
            }
        }

        _keys = array;
    }

    public IReadOnlyList<Jwk> Keys => _keys;

    /// <exception cref="JoseException"><see cref="JoseError.Malformed"/> or <see cref="JoseError.UnsupportedKey"/>
    /// (for example a key with private members).</exception>
    public static JwkSet Parse(string json)
    {
        ArgumentNullException.ThrowIfNull(json);
        if (json.Length > MaxJsonLength)
        {
            throw new JoseException(JoseError.Malformed, $"The JWK set is longer than {MaxJsonLength} characters.");
        }

        using JsonDocument document = JoseJson.ParseDocument(json, "JWK set");
        JsonElement root = document.RootElement;
        if (root.ValueKind != JsonValueKind.Object
            || !root.TryGetProperty("keys", out JsonElement keys)
            || keys.ValueKind != JsonValueKind.Array)
        {
            throw new JoseException(JoseError.Malformed, "The JWK set is not an object with a \"keys\" array.");
        }

        if (keys.GetArrayLength() > MaxKeys)
        {
            throw new JoseException(JoseError.Malformed, $"The JWK set holds more than {MaxKeys} keys.");
        }

        var parsed = new List<Jwk>();
        var kids = new HashSet<string>(StringComparer.Ordinal);
        foreach (JsonElement element in keys.EnumerateArray())
        {
            if (IsUnsupportedKind(element))
            {
                continue;
            }

            Jwk key = Jwk.Parse(element);
            if (key.Kid is not null && !kids.Add(key.Kid))
            {
                throw new JoseException(JoseError.Malformed, $"The kid \"{key.Kid}\" appears more than once.");
            }

            parsed.Add(key);
        }

        return new JwkSet(parsed);
    }

    public string ToJson()
    {
        var array = new JsonArray();
        foreach (Jwk key in _keys)
        {
            array.Add(key.ToJsonObject());
        }

        return new JsonObject { ["keys"] = array }.ToJsonString();
    }

    /// <summary>The key whose kid equals <paramref name="kid"/> (ordinal), or null.</summary>
    public Jwk? Find(string kid)
    {
        ArgumentNullException.ThrowIfNull(kid);
        foreach (Jwk key in _keys)
        {
            if (string.Equals(key.Kid, kid, StringComparison.Ordinal))
            {
                return key;
            }
        }

        return null;
    }

    private static bool IsUnsupportedKind(JsonElement element)
    {
        if (element.ValueKind != JsonValueKind.Object
            || !element.TryGetProperty("kty", out JsonElement kty)
            || kty.ValueKind != JsonValueKind.String)
        {
            return false;
        }

        string? type = kty.GetString();
        if (type == "RSA")
        {
            return false;
        }

        if (type != "EC")
        {
            return !HasPrivateMember(element);
        }

        return element.TryGetProperty("crv", out JsonElement crv)
            && crv.ValueKind == JsonValueKind.String
            && EcCurve.FromName(crv.GetString()) is null
            && !HasPrivateMember(element);
    }

    private static bool HasPrivateMember(JsonElement element) =>
        element.TryGetProperty("d", out _) || element.TryGetProperty("k", out _) || element.TryGetProperty("p", out _);
}
