using Enclave.Crypto;
using Enclave.SecureAggregation.Staged;

namespace Enclave.SecureAggregation.Tests.Staged;

public sealed class MaskUniformityTests
{
    private const int Length = 1 << 16;

    // Chi-square with 255 degrees of freedom: mean 255, standard deviation 22.6. 400 is 6.4 deviations out.
    private const double Critical = 400;

    [Fact]
    public void MaskedVectorBytesAreUniformWhileThePlaintextIsNot()
    {
        uint[] plaintext = Plaintext();
        Assert.True(ChiSquare(plaintext) > 100 * Critical);

        uint[] masked = (uint[])plaintext.Clone();
        using var prg = new MaskPrg();
        prg.Apply(masked, [.. Enumerable.Range(0, 32).Select(i => (byte)(i * 7))], add: true);
        double chi = ChiSquare(masked);
        Assert.True(chi < Critical, $"chi-square {chi}");
    }

    [Fact]
    public void AClientsMaskedInputIsUniform()
    {
        using Cohort cohort = Cohort.Create(SecAggParameters.Explicit(4, 3, 3), Length, 32);
        foreach (SecAggClient c in cohort.Clients)
        {
            cohort.Server.Receive(c.Advertise());
        }

        foreach (KeyDirectory d in cohort.Server.CloseAdvertiseKeys())
        {
            cohort.Server.Receive(cohort.Clients[d.Recipient - 1].HandleKeys(d));
        }

        ShareDelivery delivery = cohort.Server.CloseShareKeys()[0];
        MaskedInput masked = cohort.Clients[0].HandleShares(delivery, Plaintext());
        double chi = ChiSquare(masked.Vector);
        Assert.True(chi < Critical, $"chi-square {chi}");
    }

    [Fact]
    public void MaskPrgIsTheAesCtrKeystreamAndSubtractionUndoesIt()
    {
        byte[] seed = [.. Enumerable.Range(100, 32).Select(i => (byte)i)];
        var stream = new byte[(70_001 * 4) + 12];
        AesCtrPrg.Fill(seed, stream);
        var keystream = new uint[70_001];
        using var prg = new MaskPrg();
        prg.Fill(keystream, seed);
        for (int i = 0; i < keystream.Length; i++)
        {
            Assert.Equal(BitConverter.ToUInt32(stream, i * 4), keystream[i]);
        }

        uint[] x = Plaintext();
        uint[] y = (uint[])x.Clone();
        prg.Apply(y, seed, add: true);
        prg.Apply(y, seed, add: false);
        Assert.Equal(x, y);
    }

    // More masks than one group and a length that is not a whole number of chunks: the grouped pass must equal
    // the masks applied one after the other, each against the reference keystream.
    [Fact]
    public void ApplyAllEqualsEveryMaskAppliedAlone()
    {
        const int length = 20_011;
        var random = new Random(11);
        MaskSeed[] masks = [.. Enumerable.Range(0, MaskPrg.GroupSize + 9).Select(i =>
        {
            var seed = new byte[MaskPrg.SeedLength];
            random.NextBytes(seed);
            return new MaskSeed(seed, Add: i % 3 != 0);
        })];
        uint[] expected = [.. Enumerable.Range(0, length).Select(i => (uint)i * 2654435761u)];
        uint[] actual = (uint[])expected.Clone();
        var stream = new byte[(length * 4) + 12];
        foreach (MaskSeed mask in masks)
        {
            AesCtrPrg.Fill(mask.Seed, stream);
            for (int i = 0; i < length; i++)
            {
                uint k = BitConverter.ToUInt32(stream, i * 4);
                expected[i] = mask.Add ? unchecked(expected[i] + k) : unchecked(expected[i] - k);
            }
        }

        using var prg = new MaskPrg();
        prg.ApplyAll(actual, masks);
        Assert.Equal(expected, actual);
    }

    [Fact]
    public void ASeedOfTheWrongLengthIsRefusedBeforeTheTargetIsTouched()
    {
        uint[] target = [1, 2, 3];
        using var prg = new MaskPrg();
        Assert.Throws<ArgumentException>(() => prg.ApplyAll(target, [new MaskSeed(new byte[32], true), new MaskSeed(new byte[31], true)]));
        Assert.Equal([1u, 2u, 3u], target);
    }

    private static uint[] Plaintext()
    {
        // A quantised gradient-like vector: small signed values around zero.
        var random = new Random(7);
        return [.. Enumerable.Range(0, Length).Select(_ => unchecked((uint)(int)Math.Round(random.NextDouble() * 200 - 100)))];
    }

    private static double ChiSquare(uint[] vector)
    {
        var counts = new long[256];
        foreach (uint v in vector)
        {
            counts[v & 0xFF]++;
            counts[(v >> 8) & 0xFF]++;
            counts[(v >> 16) & 0xFF]++;
            counts[v >> 24]++;
        }

        double expected = vector.Length * 4 / 256.0;
        return counts.Sum(c => (c - expected) * (c - expected) / expected);
    }
}
