// Clipping and stochastic rounding into Z_2^32, and the inverse for sums.
// Stochastic rounding keeps the quantised value unbiased: E[q] = x * 2^s. Values outside [-clip, clip] are
// clipped and counted, so callers can report how much was lost instead of saturating silently.
using System.Security.Cryptography;

namespace Enclave.SecureAggregation;

public static class Quantizer
{
    /// <summary>Quantises <paramref name="values"/> into <paramref name="output"/>; returns how many were clipped.</summary>
    public static long Quantize(ReadOnlySpan<float> values, Span<uint> output, QuantizationOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (output.Length != values.Length)
        {
            throw new ArgumentException("output length must equal input length", nameof(output));
        }

        double scale = options.Scale;
        double clip = options.Clip;
        long clipped = 0;
        Span<byte> random = stackalloc byte[4096];
        int randomIndex = random.Length;
        for (int i = 0; i < values.Length; i++)
        {
            double x = values[i];
            if (double.IsNaN(x))
            {
                throw new ArgumentException($"value {i} is NaN", nameof(values));
            }

            if (x > clip)
            {
                x = clip;
                clipped++;
            }
            else if (x < -clip)
            {
                x = -clip;
                clipped++;
            }

            double scaled = x * scale;
            double floor = Math.Floor(scaled);
            double fraction = scaled - floor;
            if (randomIndex + 4 > random.Length)
            {
                RandomNumberGenerator.Fill(random);
                randomIndex = 0;
            }

            // Round up with probability equal to the fractional part (32 bits of randomness).
            uint r = BitConverter.ToUInt32(random.Slice(randomIndex, 4));
            randomIndex += 4;
            long q = (long)floor + ((r * (1.0 / 4294967296.0)) < fraction ? 1 : 0);
            output[i] = unchecked((uint)(int)q);
        }

        return clipped;
    }

    /// <summary>Interprets ring elements as signed fixed-point numbers and divides by <paramref name="divisor"/>.</summary>
    public static void Dequantize(ReadOnlySpan<uint> sum, Span<float> output, QuantizationOptions options, double divisor = 1.0)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (output.Length != sum.Length)
        {
            throw new ArgumentException("output length must equal input length", nameof(output));
        }

        if (!(divisor > 0))
        {
            throw new ArgumentOutOfRangeException(nameof(divisor), divisor, "divisor must be positive");
        }

        double factor = 1.0 / (options.Scale * divisor);
        for (int i = 0; i < sum.Length; i++)
        {
            output[i] = (float)(unchecked((int)sum[i]) * factor);
        }
    }
}
