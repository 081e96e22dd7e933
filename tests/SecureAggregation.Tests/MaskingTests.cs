using System.Security.Cryptography;
using Enclave.SecureAggregation;

namespace Enclave.SecureAggregation.Tests;

public sealed class MaskingTests
{
    [Theory]
    [InlineData(2, 17)]
    [InlineData(3, 1000)]
    [InlineData(5, 40_000)]
    public void PairwiseMasksCancelAndTheUnmaskedSumIsExact(int clients, int length)
    {
        var ids = Enumerable.Range(0, clients).Select(i => $"client-{i}").ToArray();
        var agreement = ids.Select(_ => ECDiffieHellman.Create(ECCurve.NamedCurves.nistP256)).ToArray();
        var inputs = ids.Select(_ => RandomVector(length)).ToArray();
        var sum = new MaskedSum(length);
        var maskers = new MaskingClient[clients];
        for (int i = 0; i < clients; i++)
        {
            var seeds = new Dictionary<string, byte[]>();
            for (int j = 0; j < clients; j++)
            {
                if (j != i)
                {
                    seeds[ids[j]] = PairwiseSeed.Derive(agreement[i], agreement[j].PublicKey, "round-1", ids[i], ids[j]);
                }
            }

            uint[] masked = (uint[])inputs[i].Clone();
            maskers[i] = new MaskingClient(ids[i]);
            maskers[i].Mask(masked, seeds);
            Assert.NotEqual(inputs[i], masked);
            Assert.True(Differences(inputs[i], masked) > length * 0.99, "almost every element must be masked");
            sum.Add(ids[i], masked);
        }

        for (int i = 0; i < clients; i++)
        {
            sum.RemoveSelfMask(ids[i], maskers[i].RevealSelfSeed(ids));
        }

        uint[] expected = new uint[length];
        foreach (uint[] input in inputs)
        {
            for (int k = 0; k < length; k++)
            {
                expected[k] = unchecked(expected[k] + input[k]);
            }
        }

        Assert.Equal(expected, sum.Result.ToArray());
    }

    [Fact]
    public void BothSidesOfAPairDeriveTheSameSeedAndOtherRoundsDiffer()
    {
        using var a = ECDiffieHellman.Create(ECCurve.NamedCurves.nistP256);
        using var b = ECDiffieHellman.Create(ECCurve.NamedCurves.nistP256);
        byte[] ab = PairwiseSeed.Derive(a, b.PublicKey, "round-1", "a", "b");
        byte[] ba = PairwiseSeed.Derive(b, a.PublicKey, "round-1", "b", "a");
        byte[] next = PairwiseSeed.Derive(a, b.PublicKey, "round-2", "a", "b");
        Assert.Equal(ab, ba);
        Assert.NotEqual(ab, next);
        Assert.Equal(32, ab.Length);
    }

    [Fact]
    public void AClientMasksOnceAndRevealsOnceOnlyWhenItSurvived()
    {
        using var client = new MaskingClient("a");
        Assert.Throws<InvalidOperationException>(() => client.RevealSelfSeed(["a"]));
        client.Mask(new uint[4], new Dictionary<string, byte[]> { ["b"] = new byte[32] });
        Assert.Throws<InvalidOperationException>(() => client.Mask(new uint[4], new Dictionary<string, byte[]>()));
        Assert.Throws<InvalidOperationException>(() => client.RevealSelfSeed(["b"]));
        Assert.Equal(32, client.RevealSelfSeed(["a", "b"]).Length);
        Assert.Throws<InvalidOperationException>(() => client.RevealSelfSeed(["a", "b"]));
    }

    [Fact]
    public void TheSumRefusesDuplicatesWrongLengthsAndEarlyReads()
    {
        var sum = new MaskedSum(3);
        sum.Add("a", new uint[3]);
        Assert.Throws<InvalidOperationException>(() => sum.Add("a", new uint[3]));
        Assert.Throws<ArgumentException>(() => sum.Add("b", new uint[2]));
        Assert.Throws<InvalidOperationException>(() => sum.Result.ToArray());
        Assert.Throws<InvalidOperationException>(() => sum.RemoveSelfMask("c", new byte[32]));
    }

    [Fact]
    public void AMaskedVectorLooksUniformWhileItsPlaintextDoesNot()
    {
        // A chi-squared test over 256 buckets of the top byte: the quantised update of a model delta is concentrated
        // near zero (top byte 0x00 or 0xFF); the masked vector must be indistinguishable from uniform.
        const int length = 65_536;
        var options = new QuantizationOptions(1.0, 16);
        var rng = new Random(3);
        float[] delta = Enumerable.Range(0, length).Select(_ => (float)((rng.NextDouble() - 0.5) * 0.02)).ToArray();
        uint[] quantized = new uint[length];
        Quantizer.Quantize(delta, quantized, options);
        uint[] masked = (uint[])quantized.Clone();
        using var client = new MaskingClient("a");
        client.Mask(masked, new Dictionary<string, byte[]> { ["b"] = RandomNumberGenerator.GetBytes(32) });

        // 255 degrees of freedom: the 0.999 quantile is about 330.
        Assert.True(ChiSquaredTopByte(masked) < 330, "masked vector fails the uniformity test");
        Assert.True(ChiSquaredTopByte(quantized) > 10_000, "the plaintext should be far from uniform");
    }

    private static double ChiSquaredTopByte(uint[] values)
    {
        long[] counts = new long[256];
        foreach (uint v in values)
        {
            counts[v >> 24]++;
        }

        double expected = values.Length / 256.0;
        return counts.Sum(c => (c - expected) * (c - expected) / expected);
    }

    private static uint[] RandomVector(int length)
    {
        uint[] v = new uint[length];
        RandomNumberGenerator.Fill(System.Runtime.InteropServices.MemoryMarshal.AsBytes(v.AsSpan()));
        return v;
    }

    private static int Differences(uint[] a, uint[] b) => a.Zip(b).Count(p => p.First != p.Second);
}
