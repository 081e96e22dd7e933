// Owner requests: the payload of a compact JWS (ES256, header kid = RFC 7638 thumbprint of the owner's
// P-256 key, typ "enclave-owner-request+jws") signed by the data owner:
//
//   {"op":"register","name":"<key name>","iat":<Unix seconds>,"jti":"<16-128 of [A-Za-z0-9_-]>",
//    "aud":"<kid of the broker import key>","policy":{<release policy>},"key":"<compact JWE of the 32-byte
//    data key to the broker import key>"}
//   {"op":"updatePolicy", name, iat, jti, aud, "policy":{...}}
//   {"op":"setEnabled",   name, iat, jti, aud, "enabled":true|false}
//   {"op":"rotate",       name, iat, jti, aud, "key":"<JWE of the new 32-byte data key>", "policy"?:{...}}
//   {"op":"delete",       name, iat, jti, aud}
//
// No other members are accepted. iat must be within five minutes of the broker's clock, and a jti is
// accepted once per owner.
using System.Text.Json;
using Enclave.Crypto;

namespace Enclave.KeyBroker.Keys;

public enum OwnerOperation
{
    Register,
    UpdatePolicy,
    SetEnabled,

    /// <summary>A new version with a new data key (and the latest policy unless one is given).</summary>
    Rotate,

    /// <summary>Destroys the key: no version can be released again; the name stays the owner's.</summary>
    Delete,
}

internal sealed record OwnerRequest(
    OwnerOperation Operation,
    string Name,
    DateTimeOffset IssuedAt,
    string RequestId,
    string Audience,
    string? PolicyJson,
    string? EncryptedKey,
    bool? Enabled)
{
    public const string JwsType = "enclave-owner-request+jws";
    public const int MaxRequestIdLength = 128;
    public const int MinRequestIdLength = 16;

    private static readonly string[] s_members = ["op", "name", "iat", "jti", "aud", "policy", "key", "enabled"];

    /// <exception cref="FormatException">The payload is not a valid owner request; the message says why.</exception>
    public static OwnerRequest Parse(byte[] payload)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(payload, new JsonDocumentOptions { MaxDepth = 40 });
        }
        catch (JsonException e)
        {
            throw new FormatException("The request is not valid JSON.", e);
        }

        using (document)
        {
            JsonElement root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                throw new FormatException("The request is not a JSON object.");
            }

            if (!JsonText.IsValid(root))
            {
                throw new FormatException("The request holds text that is not valid UTF-8 or has an unpaired surrogate.");
            }

            var seen = new HashSet<string>(StringComparer.Ordinal);
            foreach (JsonProperty property in root.EnumerateObject())
            {
                if (!s_members.Contains(property.Name, StringComparer.Ordinal))
                {
                    throw new FormatException($"Unknown request member \"{property.Name}\".");
                }

                if (!seen.Add(property.Name))
                {
                    throw new FormatException($"The request member \"{property.Name}\" appears twice.");
                }
            }

            OwnerOperation operation = RequiredString(root, "op") switch
            {
                "register" => OwnerOperation.Register,
                "updatePolicy" => OwnerOperation.UpdatePolicy,
                "setEnabled" => OwnerOperation.SetEnabled,
                "rotate" => OwnerOperation.Rotate,
                "delete" => OwnerOperation.Delete,
                string other => throw new FormatException($"Unknown operation \"{other}\"."),
            };
            string name = RequiredString(root, "name");
            if (!root.TryGetProperty("iat", out JsonElement iat) || iat.ValueKind != JsonValueKind.Number
                || !iat.TryGetInt64(out long iatSeconds) || iatSeconds < 0 || iatSeconds > 253402300799)
            {
                throw new FormatException("\"iat\" must be an integer number of seconds since 1970.");
            }

            string requestId = RequiredString(root, "jti");
            if (requestId.Length < MinRequestIdLength || requestId.Length > MaxRequestIdLength
                || !requestId.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_'))
            {
                throw new FormatException("\"jti\" must be 16 to 128 characters of [A-Za-z0-9_-].");
            }

            string audience = RequiredString(root, "aud");
            string? policy = null;
            string? key = null;
            bool? enabled = null;
            bool needsPolicy = operation is OwnerOperation.Register or OwnerOperation.UpdatePolicy;
            bool allowsPolicy = needsPolicy || operation == OwnerOperation.Rotate;
            bool needsKey = operation is OwnerOperation.Register or OwnerOperation.Rotate;
            if (root.TryGetProperty("policy", out JsonElement policyElement))
            {
                if (!allowsPolicy || policyElement.ValueKind != JsonValueKind.Object)
                {
                    throw new FormatException("\"policy\" must be an object and is allowed only for register, rotate and updatePolicy.");
                }

                policy = policyElement.GetRawText();
            }
            else if (needsPolicy)
            {
                throw new FormatException("The request has no \"policy\".");
            }

            if (root.TryGetProperty("key", out JsonElement keyElement))
            {
                if (!needsKey || keyElement.ValueKind != JsonValueKind.String)
                {
                    throw new FormatException("\"key\" must be a string and is allowed only for register and rotate.");
                }

                key = keyElement.GetString();
            }
            else if (needsKey)
            {
                throw new FormatException("The request has no \"key\".");
            }

            if (root.TryGetProperty("enabled", out JsonElement enabledElement))
            {
                if (operation != OwnerOperation.SetEnabled || enabledElement.ValueKind is not (JsonValueKind.True or JsonValueKind.False))
                {
                    throw new FormatException("\"enabled\" must be true or false and is allowed only for setEnabled.");
                }

                enabled = enabledElement.GetBoolean();
            }
            else if (operation == OwnerOperation.SetEnabled)
            {
                throw new FormatException("The request has no \"enabled\".");
            }

            return new OwnerRequest(
                operation, name, DateTimeOffset.FromUnixTimeSeconds(iatSeconds), requestId, audience, policy, key, enabled);
        }
    }

    private static string RequiredString(JsonElement root, string name)
    {
        if (!root.TryGetProperty(name, out JsonElement element) || element.ValueKind != JsonValueKind.String)
        {
            throw new FormatException($"\"{name}\" must be a string.");
        }

        return element.GetString()!;
    }
}
