// Unicode checks for System.Text.Json documents (RFC 8259 section 8: JSON text is UTF-8; section 8.2 leaves
// escapes of unpaired surrogates such as "\ud800" undefined). JsonDocument and JsonNode accept both invalid UTF-8
// inside strings and escaped unpaired surrogates, and then throw InvalidOperationException whenever such a
// property name or string value is read. Parsers of untrusted JSON call IsValid once, right after parsing, and
// reject the document with their own error, so no later read can throw.

using System.Text.Json;
using System.Text.Json.Nodes;

namespace Enclave.Crypto;

/// <summary>Whether every property name and string value of a parsed JSON document is valid Unicode.</summary>
public static class JsonText
{
    /// <summary>True when every property name and string value in <paramref name="element"/> decodes to valid UTF-16.</summary>
    /// <remarks>Recursion follows the document's nesting, which its parser's <c>MaxDepth</c> bounds.</remarks>
    public static bool IsValid(JsonElement element)
    {
        switch (element.ValueKind)
        {
            case JsonValueKind.String:
                return TryDecode(element);
            case JsonValueKind.Array:
                foreach (JsonElement item in element.EnumerateArray())
                {
                    if (!IsValid(item))
                    {
                        return false;
                    }
                }

                return true;
            case JsonValueKind.Object:
                foreach (JsonProperty property in element.EnumerateObject())
                {
                    if (!TryDecodeName(property) || !IsValid(property.Value))
                    {
                        return false;
                    }
                }

                return true;
            default:
                return true;
        }
    }

    /// <summary>True when every property name and string value under <paramref name="node"/> decodes to valid UTF-16.</summary>
    public static bool IsValid(JsonNode? node)
    {
        try
        {
            return IsValidCore(node);
        }
        catch (InvalidOperationException)
        {
            // A JsonObject decodes its member names when first enumerated.
            return false;
        }
    }

    private static bool IsValidCore(JsonNode? node)
    {
        switch (node)
        {
            case JsonObject obj:
                foreach (KeyValuePair<string, JsonNode?> member in obj)
                {
                    if (!IsValidCore(member.Value))
                    {
                        return false;
                    }
                }

                return true;
            case JsonArray array:
                foreach (JsonNode? item in array)
                {
                    if (!IsValidCore(item))
                    {
                        return false;
                    }
                }

                return true;
            case JsonValue value when value.GetValueKind() == JsonValueKind.String:
                _ = value.GetValue<string>();
                return true;
            default:
                return true;
        }
    }

    private static bool TryDecode(JsonElement element)
    {
        try
        {
            _ = element.GetString();
            return true;
        }
        catch (InvalidOperationException)
        {
            return false;
        }
    }

    private static bool TryDecodeName(JsonProperty property)
    {
        try
        {
            _ = property.Name;
            return true;
        }
        catch (InvalidOperationException)
        {
            return false;
        }
    }
}
