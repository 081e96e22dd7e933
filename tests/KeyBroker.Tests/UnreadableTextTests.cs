using System.Text;
using System.Text.Json;
using Enclave.KeyBroker.Keys;
using Enclave.KeyBroker.Policy;

namespace Enclave.KeyBroker.Tests;

/// <summary>Policies, claims and owner requests whose text is invalid UTF-8 or holds unpaired surrogates (found by
/// fuzzing): each is refused with the parser's own error, never an InvalidOperationException.</summary>
public sealed class UnreadableTextTests
{
    private const string Policy =
        """{"version":"1.0.0","anyOf":[{"authority":"https://verifier.example","allOf":[{"claim":"x-ms-sgx-mrenclave","equals":"ab"}]}]}""";

    [Theory]
    [InlineData("{\"version\":\"\\ud800\"}")]
    [InlineData("{\"\\udc00\":\"1.0.0\"}")]
    [InlineData("{\"version\":\"1.0.0\",\"anyOf\":[{\"authority\":\"https://v\",\"allOf\":[{\"claim\":\"a\",\"equals\":\"\\ud800\"}]}]}")]
    public void Policy_with_unpaired_surrogate_is_a_format_error(string json)
    {
        PolicyFormatException error = Assert.Throws<PolicyFormatException>(() => ReleasePolicy.Parse(json));

        Assert.Equal("$", error.JsonPath);
    }

    [Theory]
    [InlineData("{\"iss\":\"https://verifier.example\",\"x-ms-sgx-mrenclave\":\"\\ud800\"}")]
    [InlineData("{\"iss\":\"\\udfff\"}")]
    [InlineData("{\"\\ud800\":1,\"iss\":\"https://verifier.example\"}")]
    public void Claims_with_unpaired_surrogate_fail_the_policy_without_throwing(string claims)
    {
        using JsonDocument document = JsonDocument.Parse(claims);

        PolicyEvaluation evaluation = ReleasePolicy.Parse(Policy).Evaluate(document.RootElement);

        Assert.False(evaluation.IsSatisfied);
        Assert.Equal(ReasonCode.TokenInvalid, evaluation.Reason);
    }

    [Fact]
    public void Claims_with_invalid_utf8_fail_the_policy_without_throwing()
    {
        byte[] claims = [.. "{\"iss\":\""u8, 0xC3, 0x28, .. "\"}"u8];
        using JsonDocument document = JsonDocument.Parse(claims);

        Assert.False(ReleasePolicy.Parse(Policy).Evaluate(document.RootElement).IsSatisfied);
    }

    [Theory]
    [InlineData("{\"op\":\"\\ud800\"}")]
    [InlineData("{\"op\":\"register\",\"name\":\"k\",\"iat\":1,\"jti\":\"0123456789abcdef\",\"aud\":\"\\udc00\"}")]
    public void Owner_request_with_unpaired_surrogate_is_a_format_error(string json) =>
        Assert.Throws<FormatException>(() => OwnerRequest.Parse(Encoding.ASCII.GetBytes(json)));

    [Fact]
    public void Owner_request_with_invalid_utf8_is_a_format_error() =>
        Assert.Throws<FormatException>(() => OwnerRequest.Parse([.. "{\"op\":\""u8, 0xFF, .. "\"}"u8]));
}
