using Enclave.SecureAggregation;

namespace Enclave.SecureAggregation.Tests;

public sealed class QuantizerTests
{
    [Theory]
    [InlineData(0.0)]
    [InlineData(-1.0)]
    [InlineData(double.NaN)]
    [InlineData(double.PositiveInfinity)]
    public void NonPositiveOrNonFiniteClipIsRejected(double clip)
    {
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => new QuantizationOptions(clip, 16));
        Assert.Equal("clip", ex.ParamName);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(31)]
    public void ScaleBitsOutOfRangeAreRejected(int bits)
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new QuantizationOptions(1.0, bits));
    }

    [Fact]
    public void CohortThatCouldOverflowTheRingIsRejected()
    {
        var options = new QuantizationOptions(8.0, 20); // 2^23 per client: 255 clients fit below 2^31
        options.EnsureCohortFits(255);
        var ex = Assert.Throws<ArgumentOutOfRangeException>(() => options.EnsureCohortFits(256));
        Assert.Contains("overflow", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ValuesBeyondTheClipAreCountedNotSilentlySaturated()
    {
        var options = new QuantizationOptions(1.0, 16);
        float[] values = [0.5f, 1.5f, -3f, 0.999f, float.MaxValue];
        uint[] q = new uint[values.Length];
        long clipped = Quantizer.Quantize(values, q, options);
        Assert.Equal(3, clipped);
        float[] back = new float[values.Length];
        Quantizer.Dequantize(q, back, options);
        Assert.Equal(1.0f, back[1], 4);
        Assert.Equal(-1.0f, back[2], 4);
    }

    [Fact]
    public void NaNIsRejected()
    {
        var options = new QuantizationOptions(1.0, 16);
        Assert.Throws<ArgumentException>(() => Quantizer.Quantize([float.NaN], new uint[1], options));
    }

    [Fact]
    public void StochasticRoundingIsUnbiasedAndWithinOneStep()
    {
        var options = new QuantizationOptions(1.0, 4); // step 1/16
        const float x = 0.3f; // 4.8 steps: rounds to 4 or 5, mean 4.8
        float[] values = Enumerable.Repeat(x, 100_000).ToArray();
        uint[] q = new uint[values.Length];
        Quantizer.Quantize(values, q, options);
        Assert.All(q, v => Assert.InRange((int)v, 4, 5));
        double mean = q.Average(v => (double)(int)v);
        Assert.InRange(mean, 4.78, 4.82);
    }

    [Fact]
    public void NegativeValuesWrapAroundTheRingAndSumExactly()
    {
        var options = new QuantizationOptions(2.0, 20);
        float[] a = [-1.25f, 0.75f];
        float[] b = [0.5f, -1.5f];
        uint[] qa = new uint[2];
        uint[] qb = new uint[2];
        Quantizer.Quantize(a, qa, options);
        Quantizer.Quantize(b, qb, options);
        uint[] sum = [unchecked(qa[0] + qb[0]), unchecked(qa[1] + qb[1])];
        float[] result = new float[2];
        Quantizer.Dequantize(sum, result, options);
        Assert.Equal(-0.75f, result[0], 5);
        Assert.Equal(-0.75f, result[1], 5);
    }
}
