using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Enclave.Testing;

namespace Enclave.Integration.Tests;

/// <summary>
/// Staged secure aggregation end to end with real processes: six regional hosts, two of which die after the
/// ShareKeys stage and before sending their masked inputs. The coordinator must recover the dead clients'
/// pairwise masks from their Shamir shares and publish exactly the sum of the four survivors' quantised inputs.
/// </summary>
public sealed partial class DropoutSurvivalTests
{
    private static readonly string[] Regions = ["eu-west", "us-east", "ap-south", "eu-north", "sa-east", "me-central"];

    [Fact]
    public async Task ARoundSurvivesHostsKilledAfterShareKeysAndUnmasksExactlyTheSurvivorsSum()
    {
        using var directory = new TempDirectory("enclave-dropout");
        string json = directory.Combine("demo.json");
        string work = directory.Combine("work");
        string plan = directory.Combine("plan.json");
        File.WriteAllText(plan, TrustChainAttackTests.PlanJson);
        CliResult result = await CliRunner.RunAsync(TimeSpan.FromMinutes(3),
            "demo", "--regions", string.Join(',', Regions), "--rounds", "1", "--samples-per-region", "300", "--plan", plan,
            "--skip-forbidden", "--work-dir", work, "--json", json, "--test-disclose-inputs",
            "--fault", "crash-after-share-keys:sa-east", "--fault", "crash-after-share-keys:me-central");
        Assert.True(result.ExitCode == 0, result.Output + result.Error);

        JsonObject round = JsonNode.Parse(File.ReadAllText(json))!["rounds"]![0]!.AsObject();
        Assert.True(round["completed"]!.GetValue<bool>(), round.ToJsonString());
        string[] survivors = ["ap-south", "eu-north", "eu-west", "us-east"];
        Assert.Equal(survivors, round["participants"]!.AsArray().Select(p => p!["region"]!.GetValue<string>()).Order(StringComparer.Ordinal));
        var failures = round["failures"]!.AsArray().Select(f => (f!["region"]!.GetValue<string>(), f["stage"]!.GetValue<string>())).ToHashSet();
        Assert.True(failures.Order().SequenceEqual([("me-central", "masked-input"), ("sa-east", "masked-input")]), round.ToJsonString());

        // Every enclave disclosed (test mode) the quantised input it masked; the survivors' sum mod 2^32 must be
        // exactly what the coordinator unmasked, with the dead clients' pairwise masks removed.
        uint[]? sum = null;
        foreach (string region in survivors)
        {
            uint[] input = DisclosedInput(Path.Combine(work, "logs", $"host-{region}.log"));
            sum ??= new uint[input.Length];
            Assert.Equal(sum.Length, input.Length);
            for (int i = 0; i < sum.Length; i++)
            {
                sum[i] = unchecked(sum[i] + input[i]);
            }
        }

        Assert.Contains(sum!, v => v != 0);
        string expected = Convert.ToHexStringLower(SHA256.HashData(MemoryMarshal.AsBytes(sum.AsSpan())));
        Assert.Equal(expected, round["aggregateSha256"]!.GetValue<string>());

        // A dropped client's input is not in the sum: adding one changes the digest.
        uint[] dropped = DisclosedInput(Path.Combine(work, "logs", "host-sa-east.log"));
        for (int i = 0; i < sum!.Length; i++)
        {
            sum[i] = unchecked(sum[i] + dropped[i]);
        }

        Assert.NotEqual(expected, Convert.ToHexStringLower(SHA256.HashData(MemoryMarshal.AsBytes(sum.AsSpan()))));
    }

    private static uint[] DisclosedInput(string log)
    {
        Match match = DisclosedPattern().Match(File.ReadAllText(log));
        Assert.True(match.Success, $"{log} holds no disclosed input");
        return MemoryMarshal.Cast<byte, uint>(Convert.FromBase64String(match.Groups[1].Value)).ToArray();
    }

    [GeneratedRegex("TEST-ONLY quantised input of client [0-9]+: ([A-Za-z0-9+/=]+)")]
    private static partial Regex DisclosedPattern();
}
