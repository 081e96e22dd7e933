using System.Globalization;
using System.Text.Json;
using Enclave.AttestationVerifier.Endorsements;
using Enclave.AttestationVerifier.Tests.Support;

namespace Enclave.AttestationVerifier.Tests.SevSnp;

/// <summary>The SEV-SNP sample folders under TestData/sev-snp and their expected.json.</summary>
internal static class SevSnpVectors
{
    public const string DebugPolicy = "go-sev-guest-milan-vcek-debug-policy";
    public const string Vcek = "virtee-sev-milan-vcek";
    public const string VlekV3 = "trustee-milan-vlek-v3-report";

    public static readonly string[] All = [DebugPolicy, Vcek, VlekV3];

    public static string Folder(string sample) => TestData.PathOf("sev-snp", sample);

    public static byte[] Report(string sample) => File.ReadAllBytes(Path.Combine(Folder(sample), "report.bin"));

    public static byte[] File_(string sample, string name) => File.ReadAllBytes(Path.Combine(Folder(sample), name));

    public static EndorsementSet Endorsements(string sample) => EndorsementSet.Load([Folder(sample)]);

    public static JsonElement Expected(string sample)
    {
        using JsonDocument document = JsonDocument.Parse(File.ReadAllBytes(Path.Combine(Folder(sample), "expected.json")));
        return document.RootElement.Clone();
    }

    public static DateTimeOffset VerificationTime(string sample) =>
        DateTimeOffset.Parse(Expected(sample).GetProperty("verification_time").GetString()!, CultureInfo.InvariantCulture);

    /// <summary>The "fields" object flattened to dotted paths with the claim spelling (hex lower-case, decimal, true/false).</summary>
    public static Dictionary<string, string> Fields(string sample) =>
        ExpectedFields.Flatten(Expected(sample).GetProperty("fields"))
            .ToDictionary(f => f.Key, f => f.Value ?? string.Empty, StringComparer.Ordinal);
}
