// Strict JSON reading for JOSE headers, JWT claims and JWKs (RFC 8259 objects; RFC 7515 section 4
// forbids duplicate header parameter names, and RFC 7519 section 4 duplicate claim names).

using System.Text.Json;
using System.Text.Json.Nodes;

namespace Enclave.Crypto;

internal static class JoseJson
{
    public const int MaxDepth = 32;

    /// <summary>The one set of reader options for JOSE headers, JWT claims, JWKs and JWK sets.</summary>
    public static readonly JsonDocumentOptions DocumentOptions = new()
    {
        MaxDepth = MaxDepth,
        AllowTrailingCommas = false,
        CommentHandling = JsonCommentHandling.Disallow,
        AllowDuplicateProperties = false,
    };

    /// <summary>Parses UTF-8 JSON that must be one object without duplicate member names.</summary>
    public static JsonObject ParseObject(ReadOnlySpan<byte> utf8, string what)
    {
        using JsonDocument document = ParseDocument(utf8, what);
        JsonElement root = document.RootElement;
        if (root.ValueKind != JsonValueKind.Object)
        {
            throw new JoseException(JoseError.Malformed, $"The {what} is not a JSON object.");
        }

        return JsonObject.Create(root.Clone())
            ?? throw new JoseException(JoseError.Malformed, $"The {what} is not a JSON object.");
    }

    public static JsonDocument ParseDocument(ReadOnlySpan<byte> utf8, string what)
    {
        try
        {
            var document = JsonDocument.Parse(utf8.ToArray(), DocumentOptions);
            try
            {
                EnsureValidText(document.RootElement, what);
                EnsureNoDuplicates(document.RootElement, what, 0);
                return document;
            }
            catch
            {
                document.Dispose();
                throw;
            }
        }
        catch (Exception ex) when (ex is JsonException or InvalidOperationException)
        {
            // Comparing member names for duplicates decodes them, which throws InvalidOperationException for
            // names holding an unpaired surrogate.
            throw new JoseException(JoseError.Malformed, $"The {what} is not valid JSON.", ex);
        }
    }

    public static JsonDocument ParseDocument(string json, string what)
    {
        try
        {
            var document = JsonDocument.Parse(json, DocumentOptions);
            try
            {
                EnsureValidText(document.RootElement, what);
                EnsureNoDuplicates(document.RootElement, what, 0);
                return document;
            }
            catch
            {
                document.Dispose();
                throw;
            }
        }
        catch (Exception ex) when (ex is JsonException or InvalidOperationException)
        {
            // Comparing member names for duplicates decodes them, which throws InvalidOperationException for
            // names holding an unpaired surrogate.
            throw new JoseException(JoseError.Malformed, $"The {what} is not valid JSON.", ex);
        }
    }

    /// <summary>Parses UTF-8 JSON that must be one object, without duplicate member names (the reader options
    /// refuse them at every depth, escaped or not) and with only valid Unicode text; null with the reason otherwise.</summary>
    /// <remarks>Text can hold an unpaired surrogate only through a "\u" escape, so the element walk of
    /// <see cref="JsonText.IsValid(JsonElement)"/> runs only when the bytes hold one; raw bytes are checked as UTF-8 at once.</remarks>
    public static JsonElement? TryParseObject(ReadOnlySpan<byte> utf8, out JwsFormatFault fault, out string reason)
    {
        fault = JwsFormatFault.InvalidJson;
        if (!System.Text.Unicode.Utf8.IsValid(utf8))
        {
            reason = "is not valid UTF-8";
            return null;
        }

        JsonElement root;
        try
        {
            root = JsonElement.Parse(utf8, DocumentOptions);
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException)
        {
            // The duplicate-name check decodes member names, which throws InvalidOperationException for a name
            // holding an unpaired surrogate.
            reason = $"is not valid JSON ({e.Message})";
            return null;
        }

        if (root.ValueKind != JsonValueKind.Object)
        {
            fault = JwsFormatFault.NotAnObject;
            reason = "is not a JSON object";
            return null;
        }

        if (utf8.IndexOf("\\u"u8) >= 0 && !JsonText.IsValid(root))
        {
            reason = "holds text that is not valid UTF-8 or has an unpaired surrogate";
            return null;
        }

        reason = string.Empty;
        return root;
    }

    /// <summary>Rejects names and strings that are invalid UTF-8 or hold unpaired surrogates, whatever parsed the element.</summary>
    public static void EnsureValidText(JsonElement element, string what)
    {
        if (!JsonText.IsValid(element))
        {
            throw new JoseException(JoseError.Malformed, $"The {what} holds text that is not valid UTF-8 or has an unpaired surrogate.");
        }
    }

    /// <summary>Rejects duplicate member names anywhere in the element, whatever parsed it.</summary>
    public static void EnsureNoDuplicates(JsonElement element, string what, int depth)
    {
        if (depth > MaxDepth)
        {
            throw new JoseException(JoseError.Malformed, $"The {what} is nested too deeply.");
        }

        if (element.ValueKind == JsonValueKind.Object)
        {
            var names = new HashSet<string>(StringComparer.Ordinal);
            foreach (JsonProperty property in element.EnumerateObject())
            {
                if (!names.Add(property.Name))
                {
                    throw new JoseException(
                        JoseError.Malformed,
                        $"The {what} has the member \"{property.Name}\" more than once.");
                }

                EnsureNoDuplicates(property.Value, what, depth + 1);
            }
        }
        else if (element.ValueKind == JsonValueKind.Array)
        {
            foreach (JsonElement item in element.EnumerateArray())
            {
                EnsureNoDuplicates(item, what, depth + 1);
            }
        }
    }

    /// <summary>Reads an optional string member; present with another type is malformed.</summary>
    public static string? GetOptionalString(JsonObject obj, string name, string what)
    {
        if (!obj.TryGetPropertyValue(name, out JsonNode? node))
        {
            return null;
        }

        if (node is JsonValue value && value.GetValueKind() == JsonValueKind.String)
        {
            return value.GetValue<string>();
        }

        throw new JoseException(JoseError.Malformed, $"The {what} member \"{name}\" must be a string.");
    }

    public static string? GetOptionalString(JsonElement obj, string name, string what)
    {
        if (!obj.TryGetProperty(name, out JsonElement value))
        {
            return null;
        }

        if (value.ValueKind != JsonValueKind.String)
        {
            throw new JoseException(JoseError.Malformed, $"The {what} member \"{name}\" must be a string.");
        }

        return value.GetString();
    }

    public static byte[] DecodeBase64Url(ReadOnlySpan<char> text, string what)
    {
        if (!Base64Url.TryDecode(text, out byte[] data))
        {
            throw new JoseException(JoseError.Malformed, $"The {what} is not valid unpadded base64url.");
        }

        return data;
    }
}
