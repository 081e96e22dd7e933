using System.Numerics;
using Enclave.SecureAggregation.Staged;

namespace Enclave.SecureAggregation.Tests.Staged;

public sealed class ShamirTests
{
    private static readonly BigInteger s_p = (BigInteger.One << 521) - 1;

    [Fact]
    public void FieldArithmeticMatchesBigInteger()
    {
        var random = new Random(521);
        for (int i = 0; i < 200; i++)
        {
            BigInteger a = RandomBelowP(random);
            BigInteger b = RandomBelowP(random);
            ulong x = (ulong)random.NextInt64();
            Field521 fa = ToField(a);
            Field521 fb = ToField(b);
            Assert.Equal((a * b) % s_p, ToBig(Field521.Mul(fa, fb)));
            Assert.Equal((a + b) % s_p, ToBig(Field521.Add(fa, fb)));
            Assert.Equal(((a * x) + b) % s_p, ToBig(Field521.MulSmallAdd(fa, x, fb)));
            Assert.Equal((s_p - a) % s_p, ToBig(Field521.Negate(fa)));
        }

        Field521 seven = Field521.FromUInt64(7);
        Assert.Equal(BigInteger.ModPow(7, s_p - 2, s_p), ToBig(Field521.Inverse(seven)));
    }

    [Fact]
    public void FieldRejectsValuesNotBelowThePrime()
    {
        byte[] p = new byte[66];
        s_p.TryWriteBytes(p, out _, isUnsigned: true, isBigEndian: true);
        Assert.Throws<ArgumentException>(() => Field521.FromBigEndian(p));
        Assert.Throws<ArgumentException>(() => Field521.FromBigEndian(new byte[67]));
    }

    [Theory]
    [InlineData(1, 1)]
    [InlineData(2, 3)]
    [InlineData(5, 9)]
    [InlineData(30, 40)]
    public void AnyThresholdSubsetReconstructsAndFewerDoNot(int threshold, int count)
    {
        var random = new Random(threshold * 1000 + count);
        Field521 secret = ToField(RandomBelowP(random) >> 265);
        int[] indices = [.. Enumerable.Range(1, 1000).OrderBy(_ => random.Next()).Take(count)];
        Field521[] shares = Shamir.Split(secret, threshold, indices);
        for (int trial = 0; trial < 5; trial++)
        {
            int[] pick = [.. Enumerable.Range(0, count).OrderBy(_ => random.Next()).Take(threshold)];
            Field521 got = Shamir.Reconstruct([.. pick.Select(i => indices[i])], [.. pick.Select(i => shares[i])]);
            Assert.True(Field521.Equal(secret, got));
            if (threshold > 1)
            {
                int[] fewer = pick[..^1];
                Field521 wrong = Shamir.Reconstruct([.. fewer.Select(i => indices[i])], [.. fewer.Select(i => shares[i])]);
                Assert.False(Field521.Equal(secret, wrong));
            }
        }
    }

    [Fact]
    public void RepeatedOrZeroIndicesAreRejected()
    {
        Field521[] shares = Shamir.Split(Field521.FromUInt64(5), 2, [1, 2, 3]);
        Assert.Throws<ArgumentException>(() => Shamir.Reconstruct([1, 1], [shares[0], shares[0]]));
        Assert.Throws<ArgumentOutOfRangeException>(() => Shamir.Split(Field521.FromUInt64(5), 2, [0, 1]));
        Assert.Throws<ArgumentOutOfRangeException>(() => Shamir.Split(Field521.FromUInt64(5), 4, [1, 2, 3]));
    }

    private static BigInteger RandomBelowP(Random random)
    {
        var bytes = new byte[66];
        random.NextBytes(bytes);
        bytes[0] &= 1;
        return new BigInteger(bytes, isUnsigned: true, isBigEndian: true) % s_p;
    }

    private static Field521 ToField(BigInteger value)
    {
        var bytes = new byte[66];
        value.TryWriteBytes(bytes.AsSpan(66 - value.GetByteCount(isUnsigned: true)), out _, isUnsigned: true, isBigEndian: true);
        return Field521.FromBigEndian(bytes);
    }

    private static BigInteger ToBig(Field521 value)
    {
        var bytes = new byte[66];
        value.WriteBigEndian(bytes);
        return new BigInteger(bytes, isUnsigned: true, isBigEndian: true);
    }
}
