using Enclave.KeyBroker.Policy;

namespace Enclave.KeyBroker.Tests;

/// <summary>Faulty policy documents are refused when loaded, naming the JSON path of the fault.</summary>
public sealed class PolicyLoadTests
{
    private const string Rule = """{"claim":"x-ms-sgx-svn","greaterOrEquals":2}""";

    public static TheoryData<string, string> FaultyPolicies() => new()
    {
        { Wrap(Rule + "," + Rule + ",{\"claim\":\"x-ms-sgx-mrenclave\",\"startsWith\":\"ab\"}"), "$.anyOf[0].allOf[2].startsWith" },
        { Wrap(Rule + "," + Rule + ",{\"claim\":\"x-ms-sgx-mrenclave\",\"equals\":{\"a\":1}}"), "$.anyOf[0].allOf[2].equals" },
        { Wrap("""{"claim":"x-ms-sgx-mrenclave","equals":null}"""), "$.anyOf[0].allOf[0].equals" },
        { Wrap("""{"claim":"x-ms-sgx-svn","greater":"1"}"""), "$.anyOf[0].allOf[0].greater" },
        { Wrap("""{"claim":"x-ms-sgx-svn","exists":"yes"}"""), "$.anyOf[0].allOf[0].exists" },
        { Wrap("""{"claim":"x-ms-sgx-svn","equals":1,"less":3}"""), "$.anyOf[0].allOf[0].less" },
        { Wrap("""{"claim":"x-ms-sgx-svn","equals":1,"Equals":1}"""), "$.anyOf[0].allOf[0].Equals" },
        { Wrap("""{"claim":"x-ms-sgx-svn"}"""), "$.anyOf[0].allOf[0]" },
        { Wrap("""{"claim":"a..b","equals":1}"""), "$.anyOf[0].allOf[0].claim" },
        { Wrap("""{"claim":7,"equals":1}"""), "$.anyOf[0].allOf[0].claim" },
        { Wrap("""{"claim":"a","equals":1,"anyOf":[]}"""), "$.anyOf[0].allOf[0].anyOf" },
        { Wrap("""{"anyOf":[{"claim":"a","equals":1}],"authority":"https://x"}"""), "$.anyOf[0].allOf[0].authority" },
        { Wrap("""{"anyOf":[{"claim":"a","notequals":1,"bogus":2}]}"""), "$.anyOf[0].allOf[0].anyOf[0].bogus" },
        { Wrap("""{"anyOf":[]}"""), "$.anyOf[0].allOf[0].anyOf" },
        { Wrap("""{"foo":1}"""), "$.anyOf[0].allOf[0].foo" },
        { Wrap("[]"), "$.anyOf[0].allOf[0]" },
        { """{"version":"1.0.0","anyOf":[{"authority":"https://x","allOf":[]}]}""", "$.anyOf[0].allOf" },
        { """{"version":"1.0.0","anyOf":[{"authority":"https://x"}]}""", "$.anyOf[0]" },
        { """{"version":"1.0.0","anyOf":[{"authority":"","allOf":[{"claim":"a","equals":1}]}]}""", "$.anyOf[0].authority" },
        { """{"version":"1.0.0","anyOf":[{"allOf":[{"claim":"a","equals":1}]}]}""", "$.anyOf[0]" },
        { """{"version":"1.0.0","anyOf":[{"authority":"https://x","allOf":[{"claim":"a","equals":1}],"note":"x"}]}""", "$.anyOf[0].note" },
        { """{"version":"1.0.0","anyOf":[]}""", "$.anyOf" },
        { """{"version":"1.0.0"}""", "$" },
        { """{"anyOf":[{"authority":"https://x","allOf":[{"claim":"a","equals":1}]}]}""", "$" },
        { """{"version":"2.0","anyOf":[{"authority":"https://x","allOf":[{"claim":"a","equals":1}]}]}""", "$.version" },
        { """{"version":"1.0.0","anyOf":[{"authority":"https://x","allOf":[{"claim":"a","equals":1}]}],"allOf":[]}""", "$.allOf" },
        { """{"version":"1.0.0","anyOf":[{"authority":"https://x","allOf":[{"claim":"a","equals":1}]}],"extra":true}""", "$.extra" },
        { """{"version":"1.0.0","anyOf":[{"authority":"https://x","allOf":[{"claim":"a","equals":1}]}],"x-enclave-regions":["eu-west","EU"]}""", "$['x-enclave-regions'][1]" },
        { """{"version":"1.0.0","anyOf":[{"authority":"https://x","allOf":[{"claim":"a","equals":1}]}],"x-enclave-regions":[]}""", "$['x-enclave-regions']" },
        { """{"version":"1.0.0","anyOf":[{"authority":"https://x","allOf":[{"claim":"a","equals":1}]}],"x-enclave-regions":["a","a"]}""", "$['x-enclave-regions'][1]" },
        { """{"version":"1.0.0",""", "$" },
        { "[]", "$" },
    };

    [Theory]
    [MemberData(nameof(FaultyPolicies))]
    public void Load_error_names_the_json_path(string json, string path)
    {
        PolicyFormatException error = Assert.Throws<PolicyFormatException>(() => ReleasePolicy.Parse(json));

        Assert.Equal(path, error.JsonPath);
        Assert.Contains(path, error.Message, StringComparison.Ordinal);
        Assert.False(ReleasePolicy.TryParse(json, out _, out PolicyFormatException? same));
        Assert.Equal(path, same!.JsonPath);
    }

    [Fact]
    public void Keywords_match_case_insensitively_as_in_the_published_grammar()
    {
        ReleasePolicy policy = ReleasePolicy.Parse(
            """{"version":"0.2","anyof":[{"Authority":"https://x","allof":[{"Claim":"a","EQUALS":1}]}]}""");

        Assert.Equal("0.2", policy.Version);
        Assert.Null(policy.Regions);
    }

    [Fact]
    public void Oversized_or_deeply_nested_documents_are_refused()
    {
        string deep = string.Concat(Enumerable.Repeat("""{"anyOf":[""", 40)) + """{"claim":"a","equals":1}"""
            + string.Concat(Enumerable.Repeat("]}", 40));
        Assert.Equal("$", Assert.Throws<PolicyFormatException>(() => ReleasePolicy.Parse(Wrap(deep))).JsonPath);
        Assert.Throws<PolicyFormatException>(() => ReleasePolicy.Parse(new string(' ', 70_000)));
    }

    [Fact]
    public void Builder_output_is_an_ordinary_policy()
    {
        ReleasePolicy policy = new EnclaveReleasePolicyBuilder("https://verifier.test")
            .AddAuthority("https://verifier-b.test/")
            .AllowMeasurement(new string('A', 64))
            .AllowAttestationType("sgx")
            .RequireMinimumSvn(2)
            .AllowTcbStatus("UpToDate")
            .AllowRegion("eu-west")
            .AllowRegion("eu-central")
            .Build();

        Assert.Equal(["https://verifier.test", "https://verifier-b.test/"], policy.Authorities);
        Assert.Equal(["eu-west", "eu-central"], policy.Regions);
        Assert.Contains(new string('a', 64), policy.Json, StringComparison.Ordinal);
        Assert.Contains("\"x-ms-sgx-is-debuggable\",\"equals\":false", policy.Json, StringComparison.Ordinal);
    }

    [Fact]
    public void Builder_refuses_a_policy_without_measurements_and_bad_inputs()
    {
        var builder = new EnclaveReleasePolicyBuilder("https://verifier.test");
        Assert.Throws<InvalidOperationException>(() => builder.ToJson());
        Assert.Throws<ArgumentException>(() => builder.AllowMeasurement("xyz"));
        Assert.Throws<ArgumentException>(() => builder.AllowRegion("EU West"));
        Assert.Throws<ArgumentOutOfRangeException>(() => builder.RequireMinimumSvn(-1));
    }

    private static string Wrap(string conditions) =>
        $$"""{"version":"1.0.0","anyOf":[{"authority":"https://verifier.test","allOf":[{{conditions}}]}]}""";
}
