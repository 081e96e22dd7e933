using System.Text.Json.Nodes;
using Enclave.Testing;

namespace Enclave.Integration.Tests;

public sealed class RegionFailureTests
{
    [Fact]
    public async Task RegionsWithCorruptTruncatedOrMissingDataFailTheRoundAndTheOthersGoOn()
    {
        using var directory = new TempDirectory("enclave-faults");
        string json = directory.Combine("demo.json");
        CliResult result = await CliRunner.RunAsync(TimeSpan.FromMinutes(4),
            "demo", "--regions", "eu-west,us-east,me-central,ap-south,eu-north,sa-east", "--rounds", "1", "--samples-per-region", "600",
            "--skip-forbidden", "--work-dir", directory.Combine("work"), "--json", json,
            "--fault", "corrupt-chunk:ap-south", "--fault", "truncate:eu-north", "--fault", "missing-data:sa-east");
        Assert.True(result.ExitCode == 0, result.Output + result.Error);

        JsonObject round = JsonNode.Parse(File.ReadAllText(json))!["rounds"]![0]!.AsObject();
        Assert.True(round["completed"]!.GetValue<bool>());
        Assert.Equal(["eu-west", "me-central", "us-east"], round["participants"]!.AsArray().Select(p => p!["region"]!.GetValue<string>()).Order());
        var failures = round["failures"]!.AsArray().ToDictionary(f => f!["region"]!.GetValue<string>(), f => f!["code"]!.GetValue<string>());
        Assert.Equal("DatasetChunkAuthenticationFailed", failures["ap-south"]);
        Assert.Equal("DatasetTruncated", failures["eu-north"]);
        Assert.Equal("DataUnavailable", failures["sa-east"]);
        Assert.All(round["failures"]!.AsArray(), f => Assert.Equal("prepare", f!["stage"]!.GetValue<string>()));
    }

    [Fact]
    public async Task BadCommandLinesAreRefusedWithExitCodeTwoAndAClearMessage()
    {
        CliResult oneRegion = await CliRunner.RunAsync(TimeSpan.FromMinutes(1), "demo", "--regions", "eu-west");
        Assert.Equal(2, oneRegion.ExitCode);
        Assert.Contains("at least three regions", oneRegion.Error, StringComparison.Ordinal);

        CliResult badFault = await CliRunner.RunAsync(TimeSpan.FromMinutes(1), "demo", "--fault", "melt:eu-west");
        Assert.Equal(2, badFault.ExitCode);
        Assert.Contains("--fault", badFault.Error, StringComparison.Ordinal);

        CliResult noStore = await CliRunner.RunAsync(TimeSpan.FromMinutes(1), "audit", "verify", "--store", "/nonexistent/broker");
        Assert.Equal(2, noStore.ExitCode);
        Assert.Contains("no broker store", noStore.Error, StringComparison.Ordinal);
    }
}
