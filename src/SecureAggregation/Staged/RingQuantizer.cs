// Clipping and stochastic rounding into Z_2^k for the staged protocol. x in [-clip, clip] becomes
// floor(x * 2^s) + [u < frac(x * 2^s)] mod 2^k (two's complement), u uniform from AES-256-CTR(seed), so the
// rounding is unbiased and reproducible from its seed (inside an enclave the seed comes from its RNG).
// A sum of n such values stays exact while n * 2 * clip * 2^s < 2^(k-1); the constructor rejects anything else.
// Values beyond the clip are clipped and counted, never silently saturated.
using System.Buffers.Binary;
using Enclave.Crypto;

namespace Enclave.SecureAggregation.Staged;

/// <summary>What quantisation did to one vector.</summary>
public sealed record QuantizationReport(long Clipped, int Length);

/// <summary>Fixed-point quantisation for a cohort of a known size.</summary>
public sealed class RingQuantizer
{
    public const int MaxScaleBits = 30;

    /// <exception cref="ArgumentOutOfRangeException">The clip is not positive, a size is out of range, or the cohort's sum could overflow the ring.</exception>
    public RingQuantizer(double clip, int scaleBits, int ringBits, int cohortSize)
    {
        if (!double.IsFinite(clip) || clip <= 0)
        {
            throw new ArgumentOutOfRangeException(nameof(clip), clip, "the clipping range must be a positive finite number");
        }

        if (scaleBits < 0 || scaleBits > MaxScaleBits)
        {
            throw new ArgumentOutOfRangeException(nameof(scaleBits), scaleBits, $"scale bits are within [0, {MaxScaleBits}]");
        }

        if (ringBits < SecAggCodec.MinRingBits || ringBits > SecAggCodec.MaxRingBits)
        {
            throw new ArgumentOutOfRangeException(nameof(ringBits), ringBits, $"the ring modulus is 2^k with k in [{SecAggCodec.MinRingBits}, {SecAggCodec.MaxRingBits}]");
        }

        if (cohortSize < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(cohortSize), cohortSize, "a cohort has at least one client");
        }

        double scale = Math.ScaleB(1.0, scaleBits);
        double range = cohortSize * 2.0 * ((clip * scale) + 1);
        if (range >= Math.ScaleB(1.0, ringBits - 1))
        {
            throw new ArgumentOutOfRangeException(nameof(ringBits), ringBits,
                $"{cohortSize} clients x 2 x (clip {clip} x 2^{scaleBits} + 1) = {range} does not fit below 2^{ringBits - 1}: the sum could wrap around the ring");
        }

        Clip = clip;
        ScaleBits = scaleBits;
        RingBits = ringBits;
        CohortSize = cohortSize;
    }

    public double Clip { get; }

    public int ScaleBits { get; }

    public int RingBits { get; }

    public int CohortSize { get; }

    public uint RingMask => RingBits == 32 ? uint.MaxValue : (1u << RingBits) - 1;

    /// <summary>Quantises <paramref name="values"/>; the rounding randomness is AES-256-CTR(<paramref name="seed"/>).</summary>
    /// <exception cref="ArgumentException">Lengths differ, the seed is not 32 bytes, or a value is NaN.</exception>
    public QuantizationReport Quantize(ReadOnlySpan<float> values, Span<uint> output, ReadOnlySpan<byte> seed)
    {
        if (output.Length != values.Length)
        {
            throw new ArgumentException("output length must equal input length", nameof(output));
        }

        if (seed.Length != AesCtrPrg.KeySize)
        {
            throw new ArgumentException("the rounding seed is 32 bytes", nameof(seed));
        }

        double scale = Math.ScaleB(1.0, ScaleBits);
        uint mask = RingMask;
        long clipped = 0;
        var random = new byte[64 * 1024];
        ulong block = 0;
        int cursor = random.Length;
        for (int i = 0; i < values.Length; i++)
        {
            double x = values[i];
            if (double.IsNaN(x))
            {
                throw new ArgumentException($"value {i} is NaN", nameof(values));
            }

            if (x > Clip)
            {
                x = Clip;
                clipped++;
            }
            else if (x < -Clip)
            {
                x = -Clip;
                clipped++;
            }

            if (cursor == random.Length)
            {
                AesCtrPrg.Fill(seed, random, block);
                block += (ulong)(random.Length / 16);
                cursor = 0;
            }

            uint r = BinaryPrimitives.ReadUInt32LittleEndian(random.AsSpan(cursor, 4));
            cursor += 4;
            double scaled = x * scale;
            double floor = Math.Floor(scaled);
            long q = (long)floor + ((r * (1.0 / 4294967296.0)) < (scaled - floor) ? 1 : 0);
            output[i] = unchecked((uint)q) & mask;
        }

        return new QuantizationReport(clipped, values.Length);
    }

    /// <summary>Reads ring elements as signed k-bit fixed-point numbers divided by <paramref name="divisor"/>.</summary>
    public void Dequantize(ReadOnlySpan<uint> sum, Span<float> output, double divisor = 1.0)
    {
        if (output.Length != sum.Length)
        {
            throw new ArgumentException("output length must equal input length", nameof(output));
        }

        if (!(divisor > 0) || !double.IsFinite(divisor))
        {
            throw new ArgumentOutOfRangeException(nameof(divisor), divisor, "the divisor is positive and finite");
        }

        double factor = 1.0 / (Math.ScaleB(1.0, ScaleBits) * divisor);
        for (int i = 0; i < sum.Length; i++)
        {
            output[i] = (float)(ToSigned(sum[i]) * factor);
        }
    }

    /// <summary>The signed value of a k-bit ring element.</summary>
    public long ToSigned(uint element)
    {
        uint v = element & RingMask;
        long half = 1L << (RingBits - 1);
        return v >= half ? v - (1L << RingBits) : v;
    }
}
