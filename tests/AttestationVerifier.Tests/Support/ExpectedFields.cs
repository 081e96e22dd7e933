using System.Text.Json;

namespace Enclave.AttestationVerifier.Tests.Support;

/// <summary>Reads a vector's expected.json and flattens its "fields" object into dotted paths.</summary>
internal static class ExpectedFields
{
    public static JsonElement Load(params string[] parts)
    {
        using JsonDocument document = JsonDocument.Parse(File.ReadAllBytes(TestData.PathOf([.. parts, "expected.json"])));
        return document.RootElement.Clone();
    }

    public static DateTimeOffset VerificationTime(JsonElement expected) =>
        DateTimeOffset.Parse(expected.GetProperty("verification_time").GetString()!, System.Globalization.CultureInfo.InvariantCulture);

    /// <summary>Path → value (null for JSON null): strings as they are, numbers as written, booleans "true"/"false".</summary>
    public static IReadOnlyList<KeyValuePair<string, string?>> Flatten(JsonElement element)
    {
        List<KeyValuePair<string, string?>> result = [];
        Flatten(element, null, result);
        return result;
    }

    private static void Flatten(JsonElement element, string? path, List<KeyValuePair<string, string?>> result)
    {
        switch (element.ValueKind)
        {
            case JsonValueKind.Object:
                foreach (JsonProperty property in element.EnumerateObject())
                {
                    Flatten(property.Value, path is null ? property.Name : $"{path}.{property.Name}", result);
                }

                break;
            case JsonValueKind.Array:
                int index = 0;
                foreach (JsonElement item in element.EnumerateArray())
                {
                    Flatten(item, $"{path}.{index++}", result);
                }

                break;
            case JsonValueKind.String:
                result.Add(new(path!, element.GetString()));
                break;
            case JsonValueKind.True:
                result.Add(new(path!, "true"));
                break;
            case JsonValueKind.False:
                result.Add(new(path!, "false"));
                break;
            case JsonValueKind.Null:
                result.Add(new(path!, null));
                break;
            default:
                result.Add(new(path!, element.GetRawText()));
                break;
        }
    }
}
