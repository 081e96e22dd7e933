using Enclave.AttestationVerifier.Appraisal;

namespace Enclave.AttestationVerifier.Tests;

public sealed class AppraisalPolicyTests
{
    [Fact]
    public void Default_ForbidsDebugAndAllowsOnlyUpToDate()
    {
        AppraisalPolicy policy = AppraisalPolicy.FromJson("{}");

        Assert.False(policy.AllowDebug);
        Assert.Equal(["UpToDate"], policy.AllowedTcbStatuses);
        Assert.Equal(0, policy.MinimumSvn);
        Assert.Null(policy.AllowedMeasurements);
        Assert.Null(policy.AllowedSigners);
        Assert.Null(policy.AllowedFormats);
        Assert.Equal(1, policy.Version);
    }

    [Fact]
    public void FromJson_ReadsEveryField_AndNormalisesHex()
    {
        string measurement = new('A', 64);
        AppraisalPolicy policy = AppraisalPolicy.FromJson(
            $$"""
            {
              "version": 1,
              "allowDebug": true,
              "allowedTcbStatuses": ["UpToDate", "SWHardeningNeeded"],
              "minimumSvn": 4,
              "allowedMeasurements": ["{{measurement}}"],
              "allowedSigners": [],
              "allowedFormats": ["simulated"]
            }
            """);

        Assert.True(policy.AllowDebug);
        Assert.Equal(["UpToDate", "SWHardeningNeeded"], policy.AllowedTcbStatuses);
        Assert.Equal(4, policy.MinimumSvn);
        Assert.Equal([new string('a', 64)], policy.AllowedMeasurements);
        Assert.Empty(policy.AllowedSigners!);
        Assert.Equal(["simulated"], policy.AllowedFormats);
        Assert.Equal(policy.MinimumSvn, AppraisalPolicy.FromJson(policy.ToJson()).MinimumSvn);
    }

    [Theory]
    [InlineData("""{"allowDebugg": true}""")]
    [InlineData("""{"version": 2}""")]
    [InlineData("""{"minimumSvn": -1}""")]
    [InlineData("""{"minimumSvn": 65536}""")]
    [InlineData("""{"minimumSvn": "3"}""")]
    [InlineData("""{"allowedMeasurements": ["xyz"]}""")]
    [InlineData("""{"allowedMeasurements": ["abc"]}""")]
    [InlineData("""{"allowedTcbStatuses": null}""")]
    [InlineData("""{"allowedTcbStatuses": [""]}""")]
    [InlineData("""{"allowDebug": true, "allowDebug": false}""")]
    [InlineData("""[]""")]
    [InlineData("""null""")]
    public void FromJson_InvalidPolicy_Throws(string json)
    {
        Assert.Throws<InvalidDataException>(() => AppraisalPolicy.FromJson(json));
    }
}
