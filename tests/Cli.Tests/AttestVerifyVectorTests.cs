using System.Text.Json.Nodes;
using Enclave.Cli.Commands;
using Enclave.Testing;

namespace Enclave.Cli.Tests;

/// <summary>
/// `enclave attest verify` over every real evidence sample of the verifier's test data, with the sample's
/// instant: the verdict, the TCB status, the exit code and the JSON shape auditors rely on.
/// </summary>
public sealed class AttestVerifyVectorTests
{
    public static TheoryData<string> Samples()
    {
        TheoryData<string> data = [];
        foreach (string kind in Directory.GetDirectories(SamplesRoot()).Order(StringComparer.Ordinal))
        {
            foreach (string sample in Directory.GetDirectories(kind).Order(StringComparer.Ordinal))
            {
                if (HardwareSample.TryLoad(sample) is not null)
                {
                    data.Add(Path.GetRelativePath(SamplesRoot(), sample));
                }
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Samples))]
    public void Every_sample_gets_its_expected_verdict(string relative)
    {
        string folder = Path.Combine(SamplesRoot(), relative);
        HardwareSample sample = HardwareSample.TryLoad(folder)!;
        JsonObject expected = JsonNode.Parse(File.ReadAllText(Path.Combine(folder, "expected.json")))!.AsObject();
        string? tcbStatus = expected["expected"]?["tcb_status"]?.GetValue<string>();
        string evidence = Directory.GetFiles(folder).Single(f => Path.GetFileName(f) is "quote.bin" or "report.bin" or "attestation_doc.cbor" or "token.jwt");
        string[] endorsements = [.. Directory.GetFiles(folder).Where(f => f != evidence && !f.EndsWith("expected.json", StringComparison.Ordinal))];
        AttestResult result = AttestCommands.Run(
            new VerifyRequest(evidence, endorsements, null, sample.At.UtcDateTime.ToString("yyyy-MM-ddTHH:mm:ssZ"), null, null),
            TimeProvider.System);

        Assert.Equal(sample.Kind, result.Report.Kind);
        Assert.True(sample.ExpectAccept == result.Report.Verified, $"{relative}: verified={result.Report.Verified}; errors: {string.Join("; ", result.Report.Errors)}");
        if (tcbStatus is not null)
        {
            Assert.Equal(tcbStatus, result.Report.TcbStatus);
        }

        JsonObject json = result.ToJson();
        Assert.Equal(sample.ExpectAccept, json["verified"]!.GetValue<bool>());
        Assert.NotNull(json["appraisal"]!["passed"]);
        // Byte strings are lower-case hex: no long all-hex value carries an upper-case digit.
        Assert.DoesNotContain(json["claims"]!.AsObject(), c => c.Value!.GetValue<string>() is { Length: >= 16 } v && IsHex(v) && v.Any(char.IsAsciiLetterUpper));
        int expectedExit = result.Report.Verified && result.Violations.Count == 0 ? 0 : 1;
        Assert.Equal(expectedExit, result.ExitCode);
        if (!sample.ExpectAccept)
        {
            Assert.NotEmpty(json["errors"]!.AsArray());
        }
    }

    private static bool IsHex(string value) => value.Length > 0 && value.All(char.IsAsciiHexDigit);

    private static string SamplesRoot() => Path.Combine(RepositoryPaths.Root, "tests", "AttestationVerifier.Tests", "TestData");
}
