using System.Text.Json;
using System.Text.Json.Nodes;
using Enclave.Crypto;
using Enclave.KeyBroker.Policy;
using Enclave.KeyBroker.Tests.Support;

namespace Enclave.KeyBroker.Tests;

/// <summary>The published secure-key-release policies load unchanged and decide as their vectors say.</summary>
public sealed class PolicyVectorTests
{
    private const string SgxToken = "sharedwus-sgx-enclave-2022-05-31";

    public static TheoryData<string> PolicyVectors()
    {
        var data = new TheoryData<string>();
        foreach (string dir in Directory.GetDirectories(TestData.PathOf("skr-policy")).Order(StringComparer.Ordinal))
        {
            data.Add(Path.GetFileName(dir));
        }

        return data;
    }

    [Fact]
    public void All_seven_policy_vectors_are_present()
    {
        Assert.Equal(7, PolicyVectors().Count);
    }

    [Theory]
    [MemberData(nameof(PolicyVectors))]
    public void Policy_loads_unchanged_and_evaluates_as_expected(string vector)
    {
        string json = File.ReadAllText(TestData.PathOf("skr-policy", vector, "policy.json"));
        ReleasePolicy policy = ReleasePolicy.Parse(json);
        Assert.Equal(json, policy.Json);

        using JsonDocument expected = JsonDocument.Parse(File.ReadAllText(TestData.PathOf("skr-policy", vector, "expected.json")));
        JsonElement evaluations = expected.RootElement.GetProperty("expected").GetProperty("evaluations");
        Assert.True(evaluations.GetArrayLength() > 0);
        foreach (JsonElement evaluation in evaluations.EnumerateArray())
        {
            string tokenVector = evaluation.GetProperty("token_vector").GetString()!;
            string decision = evaluation.GetProperty("decision").GetString()!;
            PolicyEvaluation result = policy.Evaluate(ReadClaims(tokenVector));
            Assert.Equal(decision == "allow", result.IsSatisfied);
            Assert.Equal(result.IsSatisfied, result.Failures.Count == 0);
        }
    }

    [Fact]
    public void Authority_with_trailing_slash_matches_and_nested_anyOf_reports_every_failure()
    {
        ReleasePolicy policy = LoadVector("cvm-datadisk-multi-region-sevsnp-or-tdx");
        PolicyEvaluation result = policy.Evaluate(ReadClaims("maa-jwt/" + SgxToken));

        Assert.False(result.IsSatisfied);
        Assert.True(policy.NamesAuthority("https://sharedwus.wus.attest.azure.net"));
        PolicyFailure[] conditionFailures = result.Failures.Where(f => f.Reason != ReasonCode.WrongIssuer).ToArray();
        Assert.Equal(
            [
                (ReasonCode.AttestationTypeNotAllowed, "$.anyOf[8].allOf[0].anyOf[0]"),
                (ReasonCode.AttestationTypeNotAllowed, "$.anyOf[8].allOf[0].anyOf[1]"),
                (ReasonCode.PolicyNotSatisfied, "$.anyOf[8].allOf[1]"),
            ],
            conditionFailures.Select(f => (f.Reason, f.Path)).ToArray());
        Assert.Equal(25, result.Failures.Count(f => f.Reason == ReasonCode.WrongIssuer));
        Assert.Equal(ReasonCode.AttestationTypeNotAllowed, result.Reason);
        Assert.Contains("missing", conditionFailures[2].Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Foreign_authority_is_reported_as_wrong_issuer()
    {
        PolicyEvaluation result = LoadVector("azure-docs-sgx-mrsigner").Evaluate(ReadClaims("maa-jwt/" + SgxToken));

        PolicyFailure failure = Assert.Single(result.Failures);
        Assert.Equal(ReasonCode.WrongIssuer, failure.Reason);
        Assert.Equal("$.anyOf[0].authority", failure.Path);
    }

    [Fact]
    public void Greater_operator_and_non_hex_measurement_load_and_every_failed_condition_is_reported()
    {
        ReleasePolicy policy = LoadVector("azure-docs-sgx-mrsigner-mrenclave-min-svn");
        JsonObject claims = ReadClaimsObject("maa-jwt/" + SgxToken);
        claims["iss"] = "https://sharedeus2.eus2.attest.azure.net";

        PolicyEvaluation result = policy.Evaluate(JsonSerializer.SerializeToElement(claims));

        Assert.Equal(
            [
                (ReasonCode.MeasurementNotAllowed, "$.anyOf[0].allOf[0]"),
                (ReasonCode.MeasurementNotAllowed, "$.anyOf[0].allOf[1]"),
                (ReasonCode.SvnTooLow, "$.anyOf[0].allOf[2]"),
            ],
            result.Failures.Select(f => (f.Reason, f.Path)).ToArray());
    }

    [Fact]
    public void Top_level_allOf_is_accepted_as_every_authority_must_hold()
    {
        ReleasePolicy policy = LoadVector("azure-docs-cvm-vmid-top-level-allof");
        Assert.True(policy.RequiresAllAuthorities);
        Assert.Equal(["https://sharedweu.weu.attest.azure.net"], policy.Authorities);
    }

    [Fact]
    public void A_policy_naming_the_real_token_issuer_and_signer_is_satisfied_with_upper_case_hex()
    {
        JsonObject claims = ReadClaimsObject("maa-jwt/" + SgxToken);
        string signer = claims["x-ms-sgx-mrsigner"]!.GetValue<string>().ToUpperInvariant();
        string json = $$"""
            {"version":"1.0.0","anyOf":[{"authority":"https://sharedwus.wus.attest.azure.net/","allOf":[
              {"claim":"x-ms-sgx-mrsigner","equals":"{{signer}}"},
              {"claim":"x-ms-sgx-svn","greaterOrEquals":1},
              {"claim":"x-ms-attestation-type","equals":"sgx"}]}]}
            """;

        PolicyEvaluation result = ReleasePolicy.Parse(json).Evaluate(JsonSerializer.SerializeToElement(claims));

        Assert.True(result.IsSatisfied, string.Join("; ", result.Failures));
    }

    [Fact]
    public void The_real_debug_enclave_token_is_refused_by_a_policy_forbidding_debug()
    {
        string json = """
            {"version":"1.0.0","anyOf":[{"authority":"https://sharedwus.wus.attest.azure.net","allOf":[
              {"claim":"x-ms-sgx-is-debuggable","equals":false},
              {"claim":"is-debuggable","equals":false}]}]}
            """;

        PolicyEvaluation result = ReleasePolicy.Parse(json).Evaluate(ReadClaims("maa-jwt/" + SgxToken));

        Assert.Equal([ReasonCode.DebugNotAllowed, ReasonCode.DebugNotAllowed], result.Failures.Select(f => f.Reason).ToArray());
    }

    private static ReleasePolicy LoadVector(string name) =>
        ReleasePolicy.Parse(File.ReadAllText(TestData.PathOf("skr-policy", name, "policy.json")));

    private static JsonElement ReadClaims(string tokenVector) => JsonSerializer.SerializeToElement(ReadClaimsObject(tokenVector));

    private static JsonObject ReadClaimsObject(string tokenVector)
    {
        string[] parts = tokenVector.Split('/');
        return Jwt.ReadUnverifiedClaims(TestData.ReadText([.. parts, "token.jwt"]));
    }
}
