using System.Globalization;
using System.Text.Json;
using Enclave.AttestationVerifier.Endorsements;

namespace Enclave.Testing;

/// <summary>
/// One sample of hardware evidence in the layout of the attestation test vectors: a folder holding the evidence
/// (quote.bin, report.bin, attestation_doc.cbor or token.jwt), its endorsements, and expected.json with the
/// kind, the instant to verify at and the expected outcome.
/// </summary>
public sealed record HardwareSample(string Name, string VectorKind, byte[] Evidence, EndorsementSet Endorsements, DateTimeOffset At, bool ExpectAccept)
{
    private static readonly string[] s_evidenceFiles = ["quote.bin", "report.bin", "attestation_doc.cbor", "token.jwt"];

    /// <summary>The verifier kind for a vector kind (sgx-dcap → sgx).</summary>
    public string Kind => VectorKind switch
    {
        "sgx-dcap" => "sgx",
        "tdx-dcap" => "tdx",
        "maa-jwt" => "maa",
        _ => VectorKind,
    };

    /// <summary>Every sample folder under <paramref name="root"/> (two levels: kind/sample), in name order.</summary>
    public static IReadOnlyList<HardwareSample> LoadAll(string root)
    {
        List<HardwareSample> samples = [];
        foreach (string kindDir in Directory.GetDirectories(root).Order(StringComparer.Ordinal))
        {
            foreach (string sampleDir in Directory.GetDirectories(kindDir).Order(StringComparer.Ordinal))
            {
                if (TryLoad(sampleDir) is { } sample)
                {
                    samples.Add(sample);
                }
            }
        }

        return samples;
    }

    /// <summary>The sample in <paramref name="folder"/>, or null when it has no evidence file or expected.json.</summary>
    public static HardwareSample? TryLoad(string folder)
    {
        string expectedPath = Path.Combine(folder, "expected.json");
        string? evidencePath = s_evidenceFiles.Select(f => Path.Combine(folder, f)).FirstOrDefault(File.Exists);
        if (evidencePath is null || !File.Exists(expectedPath))
        {
            return null;
        }

        using JsonDocument expected = JsonDocument.Parse(File.ReadAllBytes(expectedPath));
        JsonElement root = expected.RootElement;
        string kind = root.GetProperty("kind").GetString() ?? throw new InvalidDataException($"{expectedPath}: no kind");
        DateTimeOffset at = DateTimeOffset.Parse(root.GetProperty("verification_time").GetString()!, CultureInfo.InvariantCulture);
        bool accept = root.GetProperty("expected").GetProperty("outcome").GetString()?.StartsWith("accept", StringComparison.Ordinal) == true;
        string[] endorsementFiles = [.. Directory.GetFiles(folder)
            .Where(f => f != evidencePath && f != expectedPath && !Path.GetFileName(f).StartsWith("negative_", StringComparison.Ordinal))
            .Order(StringComparer.Ordinal)];
        return new HardwareSample(Path.GetFileName(folder), kind, File.ReadAllBytes(evidencePath), EndorsementSet.Load(endorsementFiles), at, accept);
    }
}
