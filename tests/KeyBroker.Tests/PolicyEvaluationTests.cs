using System.Text.Json;
using Enclave.KeyBroker.Policy;

namespace Enclave.KeyBroker.Tests;

/// <summary>Typed comparisons, claim navigation, groups and regions.</summary>
public sealed class PolicyEvaluationTests
{
    private const string Authority = "https://verifier.test";

    [Theory]
    [InlineData("\"0\"", "0")]
    [InlineData("0", "\"0\"")]
    [InlineData("false", "\"false\"")]
    [InlineData("\"false\"", "false")]
    [InlineData("1", "true")]
    [InlineData("\"1\"", "{\"a\":1}")]
    public void Equals_never_matches_across_json_types(string policyValue, string claimValue)
    {
        PolicyEvaluation result = Evaluate(Condition("c", "equals", policyValue), $"{{\"c\":{claimValue}}}");

        PolicyFailure failure = Assert.Single(result.Failures);
        Assert.Contains("type mismatch", failure.Message, StringComparison.Ordinal);
        Assert.Equal(ReasonCode.PolicyNotSatisfied, failure.Reason);
    }

    [Theory]
    [InlineData("\"0\"", "0")]
    [InlineData("0", "\"1\"")]
    public void NotEquals_fails_closed_on_a_type_mismatch(string policyValue, string claimValue)
    {
        Assert.False(Evaluate(Condition("c", "notEquals", policyValue), $"{{\"c\":{claimValue}}}").IsSatisfied);
    }

    [Theory]
    [InlineData("equals", "1", "1.0", true)]
    [InlineData("equals", "2", "1", false)]
    [InlineData("notEquals", "2", "1", true)]
    [InlineData("notEquals", "\"a\"", "\"a\"", false)]
    [InlineData("less", "2", "1", true)]
    [InlineData("less", "1", "1", false)]
    [InlineData("lessOrEquals", "1", "1", true)]
    [InlineData("greater", "1", "1", false)]
    [InlineData("greater", "1", "1.5", true)]
    [InlineData("greaterOrEquals", "2", "1", false)]
    [InlineData("greaterOrEquals", "2", "2", true)]
    [InlineData("greaterOrEquals", "2", "\"3\"", false)]
    [InlineData("equals", "true", "true", true)]
    [InlineData("equals", "false", "true", false)]
    [InlineData("equals", "\"abc\"", "\"ABC\"", false)]
    public void Operators_compare_by_type_and_value(string op, string policyValue, string claimValue, bool satisfied)
    {
        Assert.Equal(satisfied, Evaluate(Condition("c", op, policyValue), $"{{\"c\":{claimValue}}}").IsSatisfied);
    }

    [Fact]
    public void Hex_measurements_compare_case_insensitively_only_for_measurement_claims()
    {
        string upper = new string('A', 64);
        string lower = new string('a', 64);

        Assert.True(Evaluate(Condition("x-ms-sgx-mrenclave", "equals", $"\"{upper}\""), $"{{\"x-ms-sgx-mrenclave\":\"{lower}\"}}").IsSatisfied);
        Assert.True(Evaluate(Condition("x-ms-isolation-tee.x-ms-sevsnpvm-launchmeasurement", "equals", $"\"{upper}\""),
            $"{{\"x-ms-isolation-tee\":{{\"x-ms-sevsnpvm-launchmeasurement\":\"{lower}\"}}}}").IsSatisfied);
        Assert.False(Evaluate(Condition("x-ms-sgx-mrenclave", "notEquals", $"\"{upper}\""), $"{{\"x-ms-sgx-mrenclave\":\"{lower}\"}}").IsSatisfied);
        Assert.False(Evaluate(Condition("x-ms-policy-hash", "equals", $"\"{upper}\""), $"{{\"x-ms-policy-hash\":\"{lower}\"}}").IsSatisfied);
        Assert.False(Evaluate(Condition("x-ms-sgx-mrenclave", "equals", "\"ABCG\""), "{\"x-ms-sgx-mrenclave\":\"abcg\"}").IsSatisfied);
    }

    [Fact]
    public void Missing_claims_satisfy_only_exists_false()
    {
        Assert.False(Evaluate(Condition("c", "equals", "1"), "{}").IsSatisfied);
        Assert.False(Evaluate(Condition("c", "notEquals", "1"), "{}").IsSatisfied);
        Assert.False(Evaluate(Condition("c", "exists", "true"), "{\"c\":null}").IsSatisfied);
        Assert.True(Evaluate(Condition("c", "exists", "false"), "{}").IsSatisfied);
        Assert.True(Evaluate(Condition("c", "exists", "true"), "{\"c\":0}").IsSatisfied);
        Assert.False(Evaluate(Condition("c", "exists", "false"), "{\"c\":0}").IsSatisfied);
    }

    [Fact]
    public void Dotted_claims_navigate_nested_objects_only()
    {
        Assert.True(Evaluate(Condition("a.b.c", "equals", "1"), "{\"a\":{\"b\":{\"c\":1}}}").IsSatisfied);
        Assert.False(Evaluate(Condition("a.b.c", "equals", "1"), "{\"a.b.c\":1}").IsSatisfied);
        Assert.False(Evaluate(Condition("a.b", "equals", "1"), "{\"a\":[{\"b\":1}]}").IsSatisfied);
        Assert.False(Evaluate(Condition("a.b", "equals", "1"), "{\"a\":\"b\"}").IsSatisfied);
    }

    [Fact]
    public void AnyOf_group_holds_when_one_alternative_holds_and_reports_all_when_none_does()
    {
        string group = """{"anyOf":[{"claim":"t","equals":"sgx"},{"claim":"t","equals":"tdxvm"}]}""";

        Assert.True(Evaluate(group, "{\"t\":\"tdxvm\"}").IsSatisfied);
        PolicyEvaluation denied = Evaluate(group, "{\"t\":\"sevsnpvm\"}");
        Assert.Equal(["$.anyOf[0].allOf[0].anyOf[0]", "$.anyOf[0].allOf[0].anyOf[1]"], denied.Failures.Select(f => f.Path).ToArray());
    }

    [Fact]
    public void AnyOf_of_authorities_holds_when_one_rule_holds()
    {
        string json = """
            {"version":"1.0.0","anyOf":[
              {"authority":"https://verifier.test","allOf":[{"claim":"c","equals":2}]},
              {"authority":"https://verifier.test/","allOf":[{"claim":"c","equals":1}]}]}
            """;

        Assert.True(ReleasePolicy.Parse(json).Evaluate(Claims("{\"c\":1}")).IsSatisfied);
    }

    [Fact]
    public void Region_list_is_enforced_and_absent_list_allows_any_region()
    {
        string withRegions = $$"""
            {"version":"1.0.0","anyOf":[{"authority":"{{Authority}}","allOf":[{"claim":"c","equals":1}]}],
             "x-enclave-regions":["eu-west","eu-central"]}
            """;
        ReleasePolicy policy = ReleasePolicy.Parse(withRegions);

        Assert.True(policy.Evaluate(Claims("{\"c\":1,\"x-enclave-region\":\"eu-central\"}")).IsSatisfied);
        PolicyEvaluation crossRegion = policy.Evaluate(Claims("{\"c\":1,\"x-enclave-region\":\"us-east\"}"));
        Assert.Equal(ReasonCode.RegionNotAllowed, crossRegion.Reason);
        Assert.Equal("$['x-enclave-regions']", crossRegion.Failures[0].Path);
        Assert.Equal(ReasonCode.RegionNotAllowed, policy.Evaluate(Claims("{\"c\":1}")).Reason);
        Assert.Equal(ReasonCode.RegionNotAllowed, policy.Evaluate(Claims("{\"c\":1,\"x-enclave-region\":7}")).Reason);
        PolicyEvaluation both = policy.Evaluate(Claims("{\"c\":2,\"x-enclave-region\":\"us-east\"}"));
        Assert.Equal([ReasonCode.RegionNotAllowed, ReasonCode.PolicyNotSatisfied], both.Failures.Select(f => f.Reason).ToArray());

        Assert.True(Evaluate(Condition("c", "equals", "1"), "{\"c\":1,\"x-enclave-region\":\"anywhere\"}").IsSatisfied);
    }

    [Fact]
    public void Token_without_issuer_matches_no_authority()
    {
        ReleasePolicy policy = ReleasePolicy.Parse(Policy(Condition("c", "equals", "1")));
        PolicyEvaluation result = policy.Evaluate(JsonSerializer.SerializeToElement(new { c = 1 }));

        Assert.Equal(ReasonCode.WrongIssuer, result.Reason);
    }

    [Theory]
    [InlineData("x-ms-sgx-mrenclave", ReasonCode.MeasurementNotAllowed)]
    [InlineData("x-ms-sgx-mrsigner", ReasonCode.MeasurementNotAllowed)]
    [InlineData("x-ms-isolation-tee.x-ms-sevsnpvm-launchmeasurement", ReasonCode.MeasurementNotAllowed)]
    [InlineData("x-ms-sgx-is-debuggable", ReasonCode.DebugNotAllowed)]
    [InlineData("x-ms-isolation-tee.x-ms-sevsnpvm-is-debuggable", ReasonCode.DebugNotAllowed)]
    [InlineData("x-enclave-region", ReasonCode.RegionNotAllowed)]
    [InlineData("x-ms-sgx-svn", ReasonCode.SvnTooLow)]
    [InlineData("x-ms-sevsnpvm-guestsvn", ReasonCode.SvnTooLow)]
    [InlineData("x-ms-attestation-type", ReasonCode.AttestationTypeNotAllowed)]
    [InlineData("x-ms-isolation-tee.x-ms-attestation-type", ReasonCode.AttestationTypeNotAllowed)]
    [InlineData("x-enclave-tcb-status", ReasonCode.TcbNotAllowed)]
    [InlineData("x-ms-compliance-status", ReasonCode.PolicyNotSatisfied)]
    [InlineData("x-ms-sgx-product-id", ReasonCode.PolicyNotSatisfied)]
    public void Failed_conditions_map_to_stable_reason_codes(string claim, ReasonCode reason)
    {
        Assert.Equal(reason, KnownClaims.ReasonFor(claim));
    }

    private static string Condition(string claim, string op, string value) =>
        $$"""{"claim":"{{claim}}","{{op}}":{{value}}}""";

    private static string Policy(string condition) =>
        $$"""{"version":"1.0.0","anyOf":[{"authority":"{{Authority}}","allOf":[{{condition}}]}]}""";

    private static PolicyEvaluation Evaluate(string condition, string claims) =>
        ReleasePolicy.Parse(Policy(condition)).Evaluate(Claims(claims));

    private static JsonElement Claims(string json)
    {
        var node = System.Text.Json.Nodes.JsonNode.Parse(json)!.AsObject();
        node["iss"] = Authority;
        return JsonSerializer.SerializeToElement(node);
    }
}
