using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text.RegularExpressions;
using Enclave.Crypto;
using Enclave.Testing;
using Grpc.Core;
using Grpc.Health.V1;
using Grpc.Net.Client;

namespace Enclave.Cli.Tests;

/// <summary>What an operator sees of a running service process: grpc.health.v1 SERVING (and `enclave health`
/// saying so), /healthz, and Prometheus metrics on /metrics that move with the traffic.</summary>
public sealed partial class ObservabilityTests
{
    [Fact]
    public async Task TheBrokerIsServingAndCountsADeniedReleaseByOutcomeAndReason()
    {
        using var directory = new TempDirectory("enclave-observe-broker");
        string keys = Path.Combine(directory.Path, "verifier.jwk");
        using (var key = ECDsa.Create(ECCurve.NamedCurves.nistP256))
        {
            File.WriteAllText(keys, Jwk.FromEcPublic(key.ExportParameters(false), use: "sig").ToJson());
        }

        await using ServerProcess broker = await ServerProcess.StartAsync(
            "serve", "broker", "--data-dir", Path.Combine(directory.Path, "broker"), "--verifier-issuer", "http://127.0.0.1:1",
            "--verifier-keys", keys, "--simulated");
        Assert.NotNull(broker.Ready.Http);

        using GrpcChannel channel = GrpcChannel.ForAddress(broker.Ready.Grpc);
        HealthCheckResponse health = await new Health.HealthClient(channel).CheckAsync(new HealthCheckRequest());
        Assert.Equal(HealthCheckResponse.Types.ServingStatus.Serving, health.Status);

        CliResult probe = await CliRunner.RunAsync(TimeSpan.FromMinutes(1), "health", "--address", broker.Ready.Grpc.ToString());
        Assert.True(probe.ExitCode == 0, probe.Output + probe.Error);
        Assert.Contains("Serving", probe.Output, StringComparison.Ordinal);

        var client = new Protocol.Broker.KeyBroker.KeyBrokerClient(channel);
        RpcException denied = await Assert.ThrowsAsync<RpcException>(async () =>
            await client.ReleaseKeyAsync(new Protocol.Broker.ReleaseKeyRequest { KeyName = "nobody/none", AttestationToken = "not-a-token" }));
        Assert.Equal("TokenInvalid", denied.Trailers.GetValue("reason-code"));

        using var http = new HttpClient();
        string healthz = await http.GetStringAsync(new Uri(broker.Ready.Http!, "/healthz"));
        Assert.Equal("Healthy", healthz);
        string metrics = await http.GetStringAsync(new Uri(broker.Ready.Http!, "/metrics"));
        Assert.Equal(1, Sample(metrics, "enclave_keybroker_releases_total", ("outcome", "denied"), ("reason", "TokenInvalid")));
    }

    [Fact]
    public async Task TheVerifierCountsRefusedVerificationsByEvidenceKindWithoutTakingKindsFromCallers()
    {
        using var directory = new TempDirectory("enclave-observe-verifier");
        await using ServerProcess verifier = await ServerProcess.StartAsync("serve", "verifier", "--data-dir", directory.Path);

        using GrpcChannel channel = GrpcChannel.ForAddress(verifier.Ready.Grpc);
        HealthCheckResponse health = await new Health.HealthClient(channel).CheckAsync(new HealthCheckRequest());
        Assert.Equal(HealthCheckResponse.Types.ServingStatus.Serving, health.Status);

        using var http = new HttpClient();
        var body = new { evidence = "AAAA", runtimeData = new { data = "AAAA", dataType = "Binary" } };
        foreach (string format in new[] { "sev-snp", "sev-snp", "no-such-kind" })
        {
            using HttpResponseMessage response = await http.PostAsJsonAsync(new Uri(verifier.Ready.Http!, $"/attest/{format}"), body);
            Assert.False(response.IsSuccessStatusCode);
        }

        string metrics = await http.GetStringAsync(new Uri(verifier.Ready.Http!, "/metrics"));
        Assert.Equal(2, Sample(metrics, "enclave_verifier_verifications_total", ("kind", "sev-snp"), ("outcome", "refused")));
        Assert.Equal(1, Sample(metrics, "enclave_verifier_verifications_total", ("kind", "unsupported"), ("outcome", "refused")));
        Assert.DoesNotContain("no-such-kind", metrics, StringComparison.Ordinal);
    }

    [Fact]
    public async Task AHostServesItsMetricsOnTheMetricsPortAndIsServingOnItsGrpcPort()
    {
        using var directory = new TempDirectory("enclave-observe-host");
        await using ServerProcess host = await ServerProcess.StartAsync(
            "serve", "host", "--region", "eu-west", "--data-dir", directory.Path, "--enclave-dir", directory.Path, "--platform-dir", directory.Path,
            "--verifier", "http://127.0.0.1:1", "--broker", "http://127.0.0.1:1", "--metrics-port", "0");
        Assert.NotNull(host.Ready.Http);
        Assert.NotEqual(host.Ready.Grpc.Port, host.Ready.Http!.Port);

        using GrpcChannel channel = GrpcChannel.ForAddress(host.Ready.Grpc);
        HealthCheckResponse health = await new Health.HealthClient(channel).CheckAsync(new HealthCheckRequest());
        Assert.Equal(HealthCheckResponse.Types.ServingStatus.Serving, health.Status);

        using var http = new HttpClient();
        Assert.Equal("Healthy", await http.GetStringAsync(new Uri(host.Ready.Http, "/healthz")));
        using HttpResponseMessage metrics = await http.GetAsync(new Uri(host.Ready.Http, "/metrics"));
        Assert.True(metrics.IsSuccessStatusCode, metrics.StatusCode.ToString());
        Assert.StartsWith("text/plain", metrics.Content.Headers.ContentType?.MediaType, StringComparison.Ordinal);
    }

    /// <summary>The value of the one sample of <paramref name="name"/> whose labels include all of
    /// <paramref name="labels"/> (0 when none has).</summary>
    private static double Sample(string exposition, string name, params (string Name, string Value)[] labels)
    {
        double? found = null;
        foreach (Match match in SampleLine().Matches(exposition))
        {
            if (match.Groups["name"].Value != name)
            {
                continue;
            }

            string set = match.Groups["labels"].Value;
            if (labels.All(l => set.Contains($"{l.Name}=\"{l.Value}\"", StringComparison.Ordinal)))
            {
                Assert.True(found is null, $"more than one sample of {name} matches: {exposition}");
                found = double.Parse(match.Groups["value"].Value, System.Globalization.CultureInfo.InvariantCulture);
            }
        }

        return found ?? 0;
    }

    [GeneratedRegex(@"^(?<name>[a-zA-Z_:][a-zA-Z0-9_:]*)\{(?<labels>[^}]*)\} (?<value>[0-9.eE+-]+)", RegexOptions.Multiline)]
    private static partial Regex SampleLine();
}
