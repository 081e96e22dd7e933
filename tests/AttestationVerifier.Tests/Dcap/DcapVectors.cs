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

    /// <summary>Path → value as <see cref="ExpectedFields.Flatten"/>, with JSON null spelled "null".</summary>
    public static Dictionary<string, string> Flatten(JsonElement element) =>
        ExpectedFields.Flatten(element).ToDictionary(f => f.Key, f => f.Value ?? "null", StringComparer.Ordinal);
}
