using Enclave.KeyBroker.Policy;

namespace Enclave.KeyBroker.Tests;

/// <summary>The policy member <c>x-enclave-privacy</c>: {"maxEpsilon": (0, 100], "delta": (0, 0.01]}, nothing else.
/// One row per single-member mutation of a valid budget, each with the JSON path and reason it is refused with.</summary>
public sealed class PrivacyPolicyTests
{
    private const string Rules = "\"version\":\"1.0.0\",\"anyOf\":[{\"authority\":\"https://x\",\"allOf\":[{\"claim\":\"a\",\"equals\":1}]}]";

    private static string With(string privacy) => "{" + Rules + ",\"x-enclave-privacy\":" + privacy + "}";

    public static TheoryData<string, double, double> ValidBudgets() => new()
    {
        { """{"maxEpsilon":8,"delta":1e-5}""", 8, 1e-5 },
        { """{"delta":0.01,"maxEpsilon":100}""", 100, 0.01 },
        { """{"maxEpsilon":1e-3,"delta":1e-12}""", 1e-3, 1e-12 },
        { """{"MaxEpsilon":2.5,"DELTA":1e-6}""", 2.5, 1e-6 },
    };

    [Theory]
    [MemberData(nameof(ValidBudgets))]
    public void A_valid_budget_is_loaded(string privacy, double maxEpsilon, double delta)
    {
        ReleasePolicy policy = ReleasePolicy.Parse(With(privacy));

        Assert.Equal(new PrivacyBudget(maxEpsilon, delta), policy.PrivacyBudget);
    }

    [Fact]
    public void A_policy_without_the_member_has_no_budget()
    {
        Assert.Null(ReleasePolicy.Parse("{" + Rules + "}").PrivacyBudget);
    }

    public static TheoryData<string, string, string> FaultyBudgets() => new()
    {
        { "[]", "$['x-enclave-privacy']", "a privacy budget must be a JSON object" },
        { "8", "$['x-enclave-privacy']", "a privacy budget must be a JSON object" },
        { "null", "$['x-enclave-privacy']", "a privacy budget must be a JSON object" },
        { "{}", "$['x-enclave-privacy']", "\"x-enclave-privacy\" needs \"maxEpsilon\"" },
        { """{"delta":1e-5}""", "$['x-enclave-privacy']", "\"x-enclave-privacy\" needs \"maxEpsilon\"" },
        { """{"maxEpsilon":8}""", "$['x-enclave-privacy']", "\"x-enclave-privacy\" needs \"delta\"" },
        { """{"maxEpsilon":8,"delta":1e-5,"steps":1}""", "$['x-enclave-privacy'].steps", "unknown member or operator \"steps\" in a privacy budget" },
        { """{"maxEpsilon":8,"delta":1e-5,"maxepsilon":9}""", "$['x-enclave-privacy'].maxepsilon", "\"maxEpsilon\" is given more than once" },
        { """{"maxEpsilon":"8","delta":1e-5}""", "$['x-enclave-privacy'].maxEpsilon", "\"maxEpsilon\" must be a number" },
        { """{"maxEpsilon":true,"delta":1e-5}""", "$['x-enclave-privacy'].maxEpsilon", "\"maxEpsilon\" must be a number" },
        { """{"maxEpsilon":0,"delta":1e-5}""", "$['x-enclave-privacy'].maxEpsilon", "\"maxEpsilon\" must be in (0, 100]" },
        { """{"maxEpsilon":-1,"delta":1e-5}""", "$['x-enclave-privacy'].maxEpsilon", "\"maxEpsilon\" must be in (0, 100]" },
        { """{"maxEpsilon":100.0001,"delta":1e-5}""", "$['x-enclave-privacy'].maxEpsilon", "\"maxEpsilon\" must be in (0, 100]" },
        { """{"maxEpsilon":1e400,"delta":1e-5}""", "$['x-enclave-privacy'].maxEpsilon", "\"maxEpsilon\" must be in (0, 100]" },
        { """{"maxEpsilon":8,"delta":0}""", "$['x-enclave-privacy'].delta", "\"delta\" must be in (0, 0.01]" },
        { """{"maxEpsilon":8,"delta":0.0101}""", "$['x-enclave-privacy'].delta", "\"delta\" must be in (0, 0.01]" },
        { """{"maxEpsilon":8,"delta":-1e-5}""", "$['x-enclave-privacy'].delta", "\"delta\" must be in (0, 0.01]" },
        { """{"maxEpsilon":8,"delta":"1e-5"}""", "$['x-enclave-privacy'].delta", "\"delta\" must be a number" },
        { """{"maxEpsilon":8,"delta":[1e-5]}""", "$['x-enclave-privacy'].delta", "\"delta\" must be a number" },
    };

    [Theory]
    [MemberData(nameof(FaultyBudgets))]
    public void A_faulty_budget_is_refused_with_its_path_and_reason(string privacy, string path, string reason)
    {
        PolicyFormatException error = Assert.Throws<PolicyFormatException>(() => ReleasePolicy.Parse(With(privacy)));

        Assert.Equal(path, error.JsonPath);
        Assert.Equal(reason, error.Reason);
    }

    [Fact]
    public void The_member_may_be_given_only_once()
    {
        string json = "{" + Rules + ",\"x-enclave-privacy\":{\"maxEpsilon\":8,\"delta\":1e-5},\"X-Enclave-Privacy\":{\"maxEpsilon\":9,\"delta\":1e-5}}";

        PolicyFormatException error = Assert.Throws<PolicyFormatException>(() => ReleasePolicy.Parse(json));

        Assert.Equal("$['X-Enclave-Privacy']", error.JsonPath);
    }

    [Fact]
    public void The_builder_writes_a_budget_the_parser_reads_back()
    {
        ReleasePolicy policy = new EnclaveReleasePolicyBuilder("https://x")
            .AllowMeasurement(new string('a', 64))
            .LimitPrivacy(4, 1e-6)
            .Build();

        Assert.Equal(new PrivacyBudget(4, 1e-6), policy.PrivacyBudget);
        Assert.Throws<ArgumentOutOfRangeException>(() => new EnclaveReleasePolicyBuilder("https://x").LimitPrivacy(0, 1e-6));
        Assert.Throws<ArgumentOutOfRangeException>(() => new EnclaveReleasePolicyBuilder("https://x").LimitPrivacy(1, 0.02));
        Assert.Throws<ArgumentOutOfRangeException>(() => new EnclaveReleasePolicyBuilder("https://x").LimitPrivacy(double.NaN, 1e-6));
    }
}
