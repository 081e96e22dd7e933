// docs/deploy.md followed by hand on loopback: every step is the `enclave` command an operator types, every
// service its own process over TLS with certificates of the deployment CA for its own address. Each "machine" is a
// loopback address of its own (127.A.B.x), so services listen on the fixed ports the other parties were configured
// with before any of them started. The services then start in a shuffled order (seeded, so a failure reproduces):
// none needs another to be up to start, and a round run afterwards completes with all three regions.
using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using Enclave.Crypto;
using Enclave.Testing;
using Xunit.Abstractions;

namespace Enclave.Integration.Tests;

public sealed partial class ByHandDeploymentTests : IDisposable
{
    private static readonly TimeSpan s_step = TimeSpan.FromSeconds(60);
    private static readonly string[] s_regions = ["eu-west", "us-east", "ap-south"];
    private readonly TempDirectory _work = new("enclave-by-hand");
    private readonly ITestOutputHelper _output;

    public ByHandDeploymentTests(ITestOutputHelper output)
    {
        _output = output;
    }

    public void Dispose() => _work.Dispose();

    [Theory]
    [InlineData(20261207)]
    [InlineData(5)]
    public async Task ServicesStartedInAnyOrderRunARoundWithAllThreeRegions(int seed)
    {
        // Machines: one address for the central services, one per region's host; ports fixed per deployment.
        var random = new Random();
        string net = $"127.{random.Next(1, 255)}.{random.Next(1, 255)}";
        int port = random.Next(20_000, 60_000);
        string central = $"{net}.1";
        var hostAddress = s_regions.Select((r, i) => (r, $"{net}.{11 + i}")).ToDictionary(p => p.r, p => p.Item2);
        string verifierUrl = $"https://{central}:{port}", issuer = $"https://{central}:{port + 1}";
        string brokerUrl = $"https://{central}:{port + 2}", aggregatorUrl = $"https://{central}:{port + 4}";
        string HostUrl(string region) => $"https://{hostAddress[region]}:{port + 10}";
        string team = _work.Combine("security-team"), ca = _work.Combine("security-team", "ca");
        string centralDir = _work.Combine("central"), tls = _work.Combine("central", "tls");
        string Region(string region, params string[] parts) => _work.Combine([region, .. parts]);

        // 1. Security team: deployment CA and certificates, simulated root and platforms, enrolment key.
        await Cli("pki", "init", "--out", ca);
        foreach (string service in new[] { "verifier", "broker", "aggregator" })
        {
            await Cli("pki", "issue", "--ca", ca, "--name", service, "--ip", central, "--out", tls);
        }

        await Cli("pki", "issue", "--ca", ca, "--name", "operator", "--out", tls);
        string caCertificate = Path.Combine(ca, "ca.crt");
        await Cli("node", "init-root", "--dir", Path.Combine(team, "root"));
        await Cli("node", "keygen", "--out", Path.Combine(team, "team.key"));
        var platformIds = new Dictionary<string, string>();
        foreach (string region in s_regions)
        {
            await Cli("pki", "issue", "--ca", ca, "--name", "host-" + region, "--ip", hostAddress[region], "--out", Region(region, "tls"));
            string printed = await Cli("node", "init", "--root-dir", Path.Combine(team, "root"), "--platform-dir", Region(region, "platform"));
            platformIds[region] = PlatformId().Match(printed).Value;
        }

        // 2. Verifier and coordinator operators provision their signing keys; the public halves travel.
        await Cli("provision", "verifier", "--data-dir", Path.Combine(centralDir, "verifier"));
        await Cli("provision", "coordinator", "--data-dir", Path.Combine(centralDir, "aggregator"));
        string verifierKeys = Path.Combine(centralDir, "verifier", "verifier-keys.jwks");
        string coordinatorKey = Path.Combine(centralDir, "aggregator", "coordinator.jwk");

        // 3. Security team: the image with both pinned; its measurement goes to the owners and the coordinator.
        string image = Path.Combine(team, "enclave-image");
        string measurement = JsonNode.Parse(await Cli("image", "configure", "--out", image, "--verifier-issuer", issuer,
            "--verifier-keys", verifierKeys, "--coordinator-key", coordinatorKey, "--simulated", "--link", "--json"))!["measurement"]!.GetValue<string>();

        // 3b. The model owner signs the training plan; its hash goes to the data owners, who pin it.
        string modelOwner = _work.Combine("model-owner");
        Directory.CreateDirectory(modelOwner);
        await Cli("node", "keygen", "--out", Path.Combine(modelOwner, "owner.key"));
        File.WriteAllText(Path.Combine(modelOwner, "plan.json"), TrustChainAttackTests.PlanJson);
        string planHash = (await Cli("plan", "sign", Path.Combine(modelOwner, "plan.json"), "--key", Path.Combine(modelOwner, "owner.key"),
            "--out", Path.Combine(modelOwner, "plan.jws"))).Trim();

        // 4. Data owners: a shard each into its host's data folder, an owner key, a policy; the key id follows from the
        // owner's public key and the name, so it reaches the coordinator before the broker runs.
        var keyIds = new Dictionary<string, string>();
        for (int i = 0; i < s_regions.Length; i++)
        {
            string region = s_regions[i], owner = _work.Combine("owner-" + region);
            await Cli("data", "encrypt", "--dataset-id", "fmnist-" + region, "--region", region, "--shard", $"{i}/3", "--limit", "2000",
                "--out", Region(region, "data", $"fmnist-{region}.encds"), "--key-out", Path.Combine(owner, "data.key"));
            await Cli("node", "keygen", "--out", Path.Combine(owner, "owner.key"));
            await Cli("key", "policy", "--verifier-issuer", issuer, "--measurement", measurement, "--region", region, "--allow-simulated",
                "--allow-plan", planHash, "--out", Path.Combine(owner, "policy.json"));
            keyIds[region] = Jwk.Parse(File.ReadAllText(Path.Combine(owner, "owner.key.jwk"))).ComputeThumbprint() + "/" + region + "-data";
        }

        // 5. The services, in a shuffled order.
        string[] Tls(string folder, string name) => ["--tls-cert", Path.Combine(folder, name + ".crt"), "--tls-key", Path.Combine(folder, name + ".key"), "--tls-ca", caCertificate];
        var services = new Dictionary<string, string[]>
        {
            ["verifier"] = ["serve", "verifier", "--listen", central, "--grpc-port", $"{port}", "--http-port", $"{port + 1}", "--issuer", issuer,
                "--data-dir", Path.Combine(centralDir, "verifier"), "--allow-simulated", "--simulated-root", Path.Combine(team, "root", "root.crt"),
                "--enrollment-key", Path.Combine(team, "team.key.jwk"), .. Tls(tls, "verifier")],
            ["broker"] = ["serve", "broker", "--listen", central, "--grpc-port", $"{port + 2}", "--http-port", $"{port + 3}", "--data-dir", Path.Combine(centralDir, "broker"),
                "--verifier-issuer", issuer, "--verifier-keys", verifierKeys, "--simulated", "--coordinator-key", coordinatorKey,
                "--enrollment-key", Path.Combine(team, "team.key.jwk"), .. Tls(tls, "broker")],
            ["aggregator"] = ["serve", "aggregator", "--listen", central, "--port", $"{port + 4}", "--data-dir", Path.Combine(centralDir, "aggregator"),
                "--verifier-issuer", issuer, "--verifier-keys", verifierKeys, "--measurement", measurement, "--broker", brokerUrl, "--allow-simulated",
                "--plan", Path.Combine(modelOwner, "plan.jws"), "--plan-owner-key", Path.Combine(modelOwner, "owner.key.jwk"),
                .. s_regions.SelectMany(r => new[] { "--host", $"{r}={HostUrl(r)}", "--dataset", $"{r}=fmnist-{r}", "--key", $"{r}={keyIds[r]}" }),
                .. Tls(tls, "aggregator")],
        };
        foreach (string region in s_regions)
        {
            services["host-" + region] = ["serve", "host", "--region", region, "--listen", hostAddress[region], "--port", $"{port + 10}",
                "--data-dir", Region(region, "data"), "--enclave-dir", image, "--platform-dir", Region(region, "platform"),
                "--verifier", verifierUrl, "--broker", brokerUrl, .. Tls(Region(region, "tls"), "host-" + region)];
        }

        string[] order = [.. services.Keys.Order(StringComparer.Ordinal)];
        new Random(seed).Shuffle(order);
        _output.WriteLine($"start order (seed {seed}): {string.Join(", ", order)}");
        var running = new List<ServerProcess>();
        try
        {
            foreach (string name in order)
            {
                running.Add(await ServerProcess.StartAsync(services[name]));
            }

            // 6. Enrolments and key registrations, now that the verifier and the broker answer.
            foreach (string region in s_regions)
            {
                await Cli("node", "enroll", "--verifier", verifierUrl, "--broker", brokerUrl, "--key", Path.Combine(team, "team.key"),
                    "--platform-id", platformIds[region], "--region", region, "--tls-ca", caCertificate);
                string owner = _work.Combine("owner-" + region);
                string registered = await Cli("key", "register", "--broker", brokerUrl, "--name", region + "-data", "--key-file", Path.Combine(owner, "data.key"),
                    "--owner-key", Path.Combine(owner, "owner.key"), "--policy", Path.Combine(owner, "policy.json"), "--tls-ca", caCertificate);
                Assert.Equal(keyIds[region], registered.Trim());
            }

            // 7. The coordinator's operator runs a round.
            string summaryPath = _work.Combine("round.json");
            await Cli(["round", "run", "--aggregator", aggregatorUrl, "--rounds", "1", "--json", summaryPath, .. Tls(tls, "operator")]);
            JsonObject round = JsonNode.Parse(File.ReadAllText(summaryPath))!["rounds"]![0]!.AsObject();
            Assert.True(round["completed"]!.GetValue<bool>(), round.ToJsonString());
            Assert.Equal(s_regions.Order(StringComparer.Ordinal), round["participants"]!.AsArray().Select(p => p!["region"]!.GetValue<string>()).Order(StringComparer.Ordinal));
            Assert.Equal(measurement, round["participants"]![0]!["measurement"]!.GetValue<string>());
        }
        finally
        {
            foreach (ServerProcess service in running)
            {
                await service.DisposeAsync();
            }
        }
    }

    private async Task<string> Cli(params string[] arguments)
    {
        CliResult result = await CliRunner.RunAsync(s_step, arguments);
        Assert.True(result.ExitCode == 0, $"enclave {string.Join(' ', arguments)} exited {result.ExitCode}: {result.Output}{result.Error}");
        return result.Output;
    }

    [GeneratedRegex("[0-9a-f]{64}")]
    private static partial Regex PlatformId();
}
