using Enclave.Privacy;

namespace Enclave.Privacy.Tests;

public sealed class ValidationTests
{
    [Theory]
    [InlineData(-0.01)]
    [InlineData(1.0000001)]
    [InlineData(double.NaN)]
    public void SamplingRateOutsideUnitInterval_Throws(double q)
    {
        Assert.Equal("samplingRate", Assert.Throws<ArgumentOutOfRangeException>(() => new PrivacySpend(q, 1, 1)).ParamName);
        Assert.Equal("samplingRate", Assert.Throws<ArgumentOutOfRangeException>(() => RdpAccountant.Rdp(q, 1, 1)).ParamName);
    }

    [Theory]
    [InlineData(0.0)]
    [InlineData(-1.0)]
    [InlineData(double.PositiveInfinity)]
    [InlineData(double.NaN)]
    public void NoiseMultiplierNotFinitePositive_Throws(double sigma)
    {
        Assert.Equal("noiseMultiplier", Assert.Throws<ArgumentOutOfRangeException>(() => new PrivacySpend(0.1, sigma, 1)).ParamName);
        Assert.Equal("noiseMultiplier", Assert.Throws<ArgumentOutOfRangeException>(() => RdpAccountant.Epsilon(0.1, sigma, 1, 1e-5)).ParamName);
    }

    [Fact]
    public void NegativeSteps_Throw()
    {
        Assert.Equal("steps", Assert.Throws<ArgumentOutOfRangeException>(() => new PrivacySpend(0.1, 1, -1)).ParamName);
        Assert.Equal("steps", Assert.Throws<ArgumentOutOfRangeException>(() => RdpAccountant.Rdp(0.1, 1, -1)).ParamName);
    }

    [Theory]
    [InlineData(0.0)]
    [InlineData(1.0)]
    [InlineData(-1e-5)]
    [InlineData(double.NaN)]
    public void DeltaOutsideOpenUnitInterval_Throws(double delta)
    {
        Assert.Equal("delta", Assert.Throws<ArgumentOutOfRangeException>(() => RdpAccountant.Epsilon([new PrivacySpend(0.1, 1, 1)], delta)).ParamName);
        Assert.Equal("delta", Assert.Throws<ArgumentOutOfRangeException>(() => RdpAccountant.EpsilonFromRdp(new double[RdpAccountant.Orders.Length], delta)).ParamName);
    }

    [Theory]
    [InlineData(1.0)]
    [InlineData(0.5)]
    [InlineData(double.PositiveInfinity)]
    public void OrderNotAboveOne_Throws(double order)
    {
        Assert.Equal("order", Assert.Throws<ArgumentOutOfRangeException>(() => RdpAccountant.RdpAtOrder(0.1, 1, order)).ParamName);
        Assert.Equal("orders", Assert.Throws<ArgumentOutOfRangeException>(() => RdpAccountant.EpsilonFromRdp([order], [0.1], 1e-5)).ParamName);
    }

    [Fact]
    public void MalformedRdpVectors_Throw()
    {
        Assert.Throws<ArgumentException>(() => RdpAccountant.EpsilonFromRdp(new double[3], 1e-5));
        Assert.Throws<ArgumentException>(() => RdpAccountant.AddRdp(0.1, 1, 1, new double[3]));
        Assert.Throws<ArgumentException>(() => RdpAccountant.EpsilonFromRdp([2.0, 3.0], [0.1], 1e-5));
        Assert.Equal("rdp", Assert.Throws<ArgumentOutOfRangeException>(() => RdpAccountant.EpsilonFromRdp([2.0], [-0.1], 1e-5)).ParamName);
        Assert.Throws<ArgumentNullException>(() => RdpAccountant.Epsilon(null!, 1e-5));
        Assert.Throws<ArgumentNullException>(() => RdpAccountant.Epsilon([null!], 1e-5));
    }

    [Fact]
    public void StepsFor_RejectsBadSizes()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => RdpAccountant.StepsFor(0, 1, 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => RdpAccountant.StepsFor(10, 11, 1));
        Assert.Equal("epochs", Assert.Throws<ArgumentOutOfRangeException>(() => RdpAccountant.StepsFor(10, 1, -1)).ParamName);
    }
}
