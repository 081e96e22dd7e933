using System.Globalization;
using System.Text.Json;
using Enclave.AttestationVerifier.Endorsements;
using Enclave.AttestationVerifier.Tests.Support;

namespace Enclave.AttestationVerifier.Tests.Dcap;

/// <summary>One SGX or TDX vector folder of TestData: quote, endorsements and expected.json.</summary>
internal sealed class DcapVector
{
    private DcapVector(string kind, string name)
    {
        Kind = kind;
        Name = name;
        Folder = TestData.PathOf(kind, name);
        Quote = File.ReadAllBytes(Path.Combine(Folder, "quote.bin"));
        Expected = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(Folder, "expected.json"))).RootElement.Clone();
        At = DateTimeOffset.Parse(Expected.GetProperty("verification_time").GetString()!, CultureInfo.InvariantCulture);
    }

    public string Kind { get; }

    public string Name { get; }

    public string Folder { get; }

    public byte[] Quote { get; }

    public JsonElement Expected { get; }

    public DateTimeOffset At { get; }

    public static DcapVector Load(string kind, string name) => new(kind, name);

    /// <summary>Every file of the folder except the quote and expected.json, recognised by content.</summary>
    public EndorsementSet Endorsements() => EndorsementSet.Load(Directory.GetFiles(Folder)
        .Where(f => Path.GetFileName(f) is not ("quote.bin" or "expected.json"))
        .Order(StringComparer.Ordinal));

    public static Dictionary<string, string> Flatten(JsonElement element)
    {
        Dictionary<string, string> result = new(StringComparer.Ordinal);
        Walk(element, string.Empty, result);
        return result;
    }

    private static void Walk(JsonElement e, string path, Dictionary<string, string> result)
    {
        switch (e.ValueKind)
        {
            case JsonValueKind.Object:
                foreach (JsonProperty p in e.EnumerateObject())
                {
                    Walk(p.Value, path.Length == 0 ? p.Name : path + "." + p.Name, result);
                }

                break;
            case JsonValueKind.Array:
                int i = 0;
                foreach (JsonElement item in e.EnumerateArray())
                {
                    Walk(item, path + "." + i.ToString(CultureInfo.InvariantCulture), result);
                    i++;
                }

                break;
            case JsonValueKind.String:
                result[path] = e.GetString()!;
                break;
            case JsonValueKind.True:
                result[path] = "true";
                break;
            case JsonValueKind.False:
                result[path] = "false";
                break;
            default:
                result[path] = e.GetRawText();
                break;
        }
    }
}
