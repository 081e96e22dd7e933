using System.Security.Cryptography;
using System.Text.Json.Nodes;
using Enclave.Crypto;
using Enclave.Testing;

namespace Enclave.Cli.Tests;

/// <summary>`enclave plan hash | show | sign` as a model owner and a data owner run them.</summary>
public sealed class PlanCommandTests
{
    private static readonly TimeSpan s_timeout = TimeSpan.FromSeconds(60);

    private const string PrivatePlan = """
        {"type":"enclave-training-plan/1","id":"fashion-mlp-dp","purpose":"fashion-classification",
         "model":{"kind":"mlp","hidden":64},"optimizer":{"learningRate":0.5,"momentum":0},"rounds":3,
         "algorithm":{"proximalMu":0,"server":{"kind":"sgd","learningRate":1,"momentum":0}},
         "updateClipNorm":5,
         "privacy":{"kind":"record","samplingRate":0.01,"noiseMultiplier":1.1,"exampleClipNorm":1,"stepsPerRound":100,"delta":1e-5},
         "seed":1}
        """;

    [Fact]
    public async Task A_model_owner_signs_a_plan_and_a_data_owner_checks_it_and_reads_its_hash_and_epsilon()
    {
        using var dir = new TempDirectory("enclave-plan");
        string plan = Path.Combine(dir.Path, "plan.json");
        string signed = Path.Combine(dir.Path, "plan.jws");
        string key = Path.Combine(dir.Path, "owner.pem");
        string pub = Path.Combine(dir.Path, "owner.jwk");
        string stranger = Path.Combine(dir.Path, "stranger.jwk");
        File.WriteAllText(plan, PrivatePlan);
        using (var owner = ECDsa.Create(ECCurve.NamedCurves.nistP256))
        using (var other = ECDsa.Create(ECCurve.NamedCurves.nistP256))
        {
            File.WriteAllText(key, owner.ExportPkcs8PrivateKeyPem());
            File.WriteAllText(pub, Jwk.FromEcPublic(owner.ExportParameters(false)).ToJson());
            File.WriteAllText(stranger, Jwk.FromEcPublic(other.ExportParameters(false)).ToJson());
        }

        CliResult hash = await CliRunner.RunAsync(s_timeout, "plan", "hash", plan);
        CliResult sign = await CliRunner.RunAsync(s_timeout, "plan", "sign", plan, "--key", key, "--out", signed);
        CliResult signedHash = await CliRunner.RunAsync(s_timeout, "plan", "hash", signed);
        CliResult show = await CliRunner.RunAsync(s_timeout, "plan", "show", signed, "--owner-key", pub, "--json");
        CliResult wrongOwner = await CliRunner.RunAsync(s_timeout, "plan", "show", signed, "--owner-key", stranger);

        Assert.Equal(0, hash.ExitCode);
        string sha = hash.Output.Trim();
        Assert.Matches("^[0-9a-f]{64}$", sha);
        Assert.Equal((0, sha), (sign.ExitCode, sign.Output.Trim()));
        Assert.Equal(sha, signedHash.Output.Trim());
        Assert.Equal(0, show.ExitCode);
        JsonObject shown = JsonNode.Parse(show.Output)!.AsObject();
        Assert.Equal(sha, shown["sha256"]!.GetValue<string>());
        Assert.True(shown["signatureVerified"]!.GetValue<bool>());
        Assert.Equal(Privacy.RdpAccountant.Epsilon(0.01, 1.1, 300, 1e-5).Epsilon, shown["privacy"]!["epsilonAllRounds"]!.GetValue<double>(), 4);
        Assert.Equal(1, wrongOwner.ExitCode);
        Assert.Contains("SIGNATURE DOES NOT VERIFY", wrongOwner.Output);
    }

    [Fact]
    public async Task A_bad_plan_is_one_line_naming_the_member_and_exit_2_with_nothing_written()
    {
        using var dir = new TempDirectory("enclave-plan");
        string plan = Path.Combine(dir.Path, "plan.json");
        string key = Path.Combine(dir.Path, "owner.pem");
        File.WriteAllText(plan, PrivatePlan.Replace("\"noiseMultiplier\":1.1", "\"noiseMultiplier\":-1"));
        using (var owner = ECDsa.Create(ECCurve.NamedCurves.nistP256))
        {
            File.WriteAllText(key, owner.ExportPkcs8PrivateKeyPem());
        }

        CliResult sign = await CliRunner.RunAsync(s_timeout, "plan", "sign", plan, "--key", key, "--out", Path.Combine(dir.Path, "plan.jws"));
        CliResult missing = await CliRunner.RunAsync(s_timeout, "plan", "show", Path.Combine(dir.Path, "none.json"));

        Assert.Equal(2, sign.ExitCode);
        Assert.Contains("plan.privacy.noiseMultiplier", sign.Error);
        Assert.Single(sign.Error.Trim().Split('\n'));
        Assert.False(File.Exists(Path.Combine(dir.Path, "plan.jws")));
        Assert.Equal(2, missing.ExitCode);
        Assert.Contains("does not exist", missing.Error);
    }

    [Fact]
    public async Task A_data_owner_writes_a_policy_that_pins_the_plan_and_caps_epsilon()
    {
        string measurement = new('a', 64);
        string plan = new('b', 64);

        CliResult pinned = await CliRunner.RunAsync(s_timeout, "key", "policy", "--verifier-issuer", "https://verifier.example", "--measurement", measurement,
            "--region", "eu-west", "--allow-plan", plan, "--max-epsilon", "8", "--delta", "1e-5");
        CliResult badPlan = await CliRunner.RunAsync(s_timeout, "key", "policy", "--verifier-issuer", "https://verifier.example", "--measurement", measurement,
            "--region", "eu-west", "--allow-plan", "not-a-hash");
        CliResult badBudget = await CliRunner.RunAsync(s_timeout, "key", "policy", "--verifier-issuer", "https://verifier.example", "--measurement", measurement,
            "--region", "eu-west", "--max-epsilon", "0");

        Assert.Equal(0, pinned.ExitCode);
        JsonObject policy = JsonNode.Parse(pinned.Output)!.AsObject();
        Assert.Contains($"{{\"claim\":\"x-ms-runtime.plan\",\"equals\":\"{plan}\"}}", policy.ToJsonString());
        Assert.Equal(8, policy["x-enclave-privacy"]!["maxEpsilon"]!.GetValue<double>());
        Assert.Equal((2, 2), (badPlan.ExitCode, badBudget.ExitCode));
        Assert.Contains("--allow-plan", badPlan.Error);
        Assert.Contains("--max-epsilon", badBudget.Error);
    }
}
