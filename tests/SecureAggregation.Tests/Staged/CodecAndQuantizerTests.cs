using System.Buffers.Binary;
using Enclave.SecureAggregation.Staged;

namespace Enclave.SecureAggregation.Tests.Staged;

public sealed class CodecAndQuantizerTests
{
    [Fact]
    public void EveryMessageRoundTrips()
    {
        byte[] key = [4, .. new byte[64]];
        byte[] sig = [.. Enumerable.Range(0, 64).Select(i => (byte)i)];
        var ad = new AdvertiseKeys("r", 3, key, key, sig);
        SecAggMessage[] messages =
        [
            ad,
            new KeyDirectory("r", 1, [ad, ad with { Sender = 4 }]),
            new ShareKeys("r", 2, [new EncryptedShare(5, new byte[SecAggCodec.ShareCiphertextLength])], sig),
            new ShareDelivery("r", 2, [new EncryptedShare(5, new byte[SecAggCodec.ShareCiphertextLength])]),
            new MaskedInput("r", 2, 20, [1, 2, 0xFFFFF], sig),
            new SurvivorSet("r", 2, [1, 2, 7]),
            new ConsistencySignature("r", 2, new byte[32], sig),
            new UnmaskRequest("r", 2, [1, 2], [new SurvivorSignature(1, sig)], [1, 2], [3]),
            new UnmaskResponse("r", 2, [new RevealedShare(1, ShareKind.MaskKey, new byte[66])], sig),
        ];
        foreach (SecAggMessage m in messages)
        {
            byte[] bytes = SecAggCodec.Encode(m);
            SecAggMessage back = SecAggCodec.Decode(bytes);
            Assert.Equal(m.GetType(), back.GetType());
            Assert.Equal(bytes, SecAggCodec.Encode(back));
        }
    }

    [Fact]
    public void MalformedMessagesAreRejected()
    {
        byte[] good = SecAggCodec.Encode(new SurvivorSet("r", 2, [1, 2, 7]));
        AssertMalformed(good[..^1]);
        AssertMalformed([.. good, 0]);
        byte[] wrongStage = (byte[])good.Clone();
        wrongStage[9] = 1;
        AssertMalformed(wrongStage);
        byte[] huge = (byte[])good.Clone();
        BinaryPrimitives.WriteUInt32LittleEndian(huge.AsSpan(8 + 3 + 1 + 4), 1_000_000);
        AssertMalformed(huge);
        byte[] zeroIndex = (byte[])good.Clone();
        BinaryPrimitives.WriteUInt32LittleEndian(zeroIndex.AsSpan(8 + 3 + 1 + 8), 0);
        AssertMalformed(zeroIndex);
        AssertMalformed("NOTMAGIC"u8.ToArray());
        byte[] ring = SecAggCodec.Encode(new MaskedInput("r", 2, 20, [1, 2, 3], new byte[64]));
        ring[8 + 3 + 1 + 4 + 4 + 4] = 0x10;
        AssertMalformed(ring);
    }

    [Fact]
    public void QuantiserRejectsConfigurationsThatCouldOverflowTheRing()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new RingQuantizer(0, 16, 32, 10));
        Assert.Throws<ArgumentOutOfRangeException>(() => new RingQuantizer(-1, 16, 32, 10));
        Assert.Throws<ArgumentOutOfRangeException>(() => new RingQuantizer(double.NaN, 16, 32, 10));
        Assert.Throws<ArgumentOutOfRangeException>(() => new RingQuantizer(1, 16, 4, 10));

        // n * 2 * (clip * 2^s + 1) must stay below 2^(k-1): 1000 * 2 * (1 * 2^16 + 1) > 2^31 - 1.
        Assert.Throws<ArgumentOutOfRangeException>(() => new RingQuantizer(1, 21, 32, 1000));
        _ = new RingQuantizer(1, 16, 32, 1000);
        Assert.Throws<ArgumentOutOfRangeException>(() => new RingQuantizer(1, 16, 32, 20_000));
    }

    [Fact]
    public void QuantiserCountsClippedValuesAndRoundsWithoutBias()
    {
        var q = new RingQuantizer(1.0, 8, 24, 100);
        float[] values = [.. Enumerable.Repeat(0.3001f, 20_000), 5f, -7f, 1f];
        var output = new uint[values.Length];
        byte[] seed = new byte[32];
        QuantizationReport report = q.Quantize(values, output, seed);
        Assert.Equal(2, report.Clipped);
        Assert.Equal(256, q.ToSigned(output[^3]));
        Assert.Equal(-256, q.ToSigned(output[^2]));
        double mean = output.Take(20_000).Average(v => (double)q.ToSigned(v));
        Assert.InRange(mean, (0.3001 * 256) - 0.05, (0.3001 * 256) + 0.05);
        Assert.All(output.Take(20_000), v => Assert.InRange(q.ToSigned(v), 76, 77));

        var again = new uint[values.Length];
        q.Quantize(values, again, seed);
        Assert.Equal(output, again);
        Assert.Throws<ArgumentException>(() => q.Quantize([float.NaN], new uint[1], seed));
    }

    [Fact]
    public void QuantisedInputsSumExactlyThroughARound()
    {
        const int n = 6;
        const int length = 500;
        var q = new RingQuantizer(0.5, 12, 24, n);
        var random = new Random(3);
        float[][] values = [.. Enumerable.Range(0, n).Select(_ => Enumerable.Range(0, length).Select(_ => (float)(random.NextDouble() - 0.5)).ToArray())];
        uint[][] inputs = [.. values.Select((v, i) =>
        {
            var o = new uint[length];
            q.Quantize(v, o, [.. Enumerable.Repeat((byte)i, 32)]);
            return o;
        })];
        int[] drop = [0, 3, 0, 0, 5, 0];
        using Cohort cohort = Cohort.Create(SecAggParameters.Explicit(n, 5, 4), length, 24);
        SecAggResult result = cohort.Run(inputs, drop);
        Assert.Equal(Cohort.ExpectedSum(inputs, drop, 24), result.Sum);
        var mean = new float[length];
        q.Dequantize(result.Sum, mean, result.Survivors.Count);
        for (int j = 0; j < length; j++)
        {
            double exact = new[] { 0, 2, 3, 4, 5 }.Average(i => values[i][j]);
            Assert.InRange(mean[j], exact - 0.001, exact + 0.001);
        }
    }

    private static void AssertMalformed(byte[] bytes) =>
        Assert.Equal(SecAggErrorCode.Malformed, Assert.Throws<SecAggException>(() => SecAggCodec.Decode(bytes)).Code);
}
