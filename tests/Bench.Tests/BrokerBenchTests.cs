using Enclave.Bench;
using Enclave.KeyBroker;
using Enclave.Testing;

namespace Enclave.Bench.Tests;

/// <summary>`scripts/bench.sh broker` in both load shapes, briefly: what it reports must come from what ran.</summary>
public sealed class BrokerBenchTests
{
    [Fact]
    public async Task An_open_loop_run_offers_releases_at_the_rate_and_times_them_from_when_they_were_due()
    {
        using var directory = new TempDirectory("enclave-bench");
        var settings = new BenchSettings(4, TimeSpan.FromSeconds(2), KeyBrokerStoreKind.Sqlite, null, directory.Path)
        {
            Rate = 50,
            MinWarmup = TimeSpan.FromMilliseconds(200),
            MaxWarmup = TimeSpan.FromMilliseconds(500),
        };

        BenchResult result = await BrokerBench.RunAsync(settings, CancellationToken.None);

        // 50 per second for 2 seconds: exactly 100 releases were due, and each was granted and audited.
        Assert.Equal(0, result.Errors);
        Assert.Equal(100, result.Releases);
        Assert.Equal(50, result.OfferedPerSecond);
        Assert.InRange(result.ReleasesPerSecond, 30, 51);
        Assert.True(result.P50Ms > 0 && result.P99Ms >= result.P50Ms && result.P999Ms >= result.P99Ms);
        Assert.True(result.PacerLagP99Ms is >= 0);
        Assert.True(result.AuditVerified);
        Assert.True(result.AuditEntries > result.Releases);
        Assert.True(result.CryptoBoundPerSecond > 0);
        Assert.Equal(result.ReleasesPerSecond / result.CryptoBoundPerSecond, result.CryptoBoundRatio, 6);
        Assert.Equal("open loop", result.ToJson()["load"]!.GetValue<string>());
        Assert.Equal(result.PacerLagP99Ms!.Value, result.ToJson()["pacerLagP99Ms"]!.GetValue<double>(), 3);
        Assert.Equal("ec", result.ToJson()["enclaveKey"]!.GetValue<string>());
    }

    [Fact]
    public async Task A_closed_loop_run_with_rsa_enclave_keys_releases_rsa_oaep_jwes()
    {
        using var directory = new TempDirectory("enclave-bench");
        var settings = new BenchSettings(2, TimeSpan.FromSeconds(1), KeyBrokerStoreKind.Sqlite, null, directory.Path)
        {
            RsaEnclaveKey = true,
            MinWarmup = TimeSpan.FromMilliseconds(200),
            MaxWarmup = TimeSpan.FromMilliseconds(500),
        };

        BenchResult result = await BrokerBench.RunAsync(settings, CancellationToken.None);

        Assert.Equal(0, result.Errors);
        Assert.True(result.Releases > 0);
        Assert.Null(result.OfferedPerSecond);
        Assert.True(result.AuditVerified);
        Assert.Equal("closed loop", result.ToJson()["load"]!.GetValue<string>());
        Assert.Equal("rsa", result.ToJson()["enclaveKey"]!.GetValue<string>());
        Assert.Null(result.ToJson()["offeredPerSecond"]);
        Assert.Null(result.PacerLagP99Ms);
    }

    [Theory]
    [InlineData("--rate", "0")]
    [InlineData("--rate", "-5")]
    [InlineData("--enclave-key", "dsa")]
    public async Task Bad_bench_options_are_usage_errors_naming_the_option(string option, string value)
    {
        CliResult result = await CliRunner.RunAsync(TimeSpan.FromMinutes(1), "bench", "broker", "--seconds", "1", option, value);

        Assert.NotEqual(0, result.ExitCode);
        Assert.Contains(option, result.Error, StringComparison.Ordinal);
    }
}
