// Shamir secret sharing (Shamir 1979) over GF(2^521 - 1). A secret s is the constant term of a random
// polynomial f of degree t - 1; the share for participant index x (1-based, never 0) is f(x). Any t shares
// give s by Lagrange interpolation at 0; fewer reveal nothing. Shares encode as 66 big-endian bytes.
namespace Enclave.SecureAggregation.Staged;

internal static class Shamir
{
    /// <summary>Largest participant index; keeps products of index differences within 64 bits when packed.</summary>
    public const int MaxIndex = 1 << 20;

    /// <summary>Shares <paramref name="secret"/> with threshold <paramref name="threshold"/> at the given indices.</summary>
    public static Field521[] Split(in Field521 secret, int threshold, ReadOnlySpan<int> indices)
    {
        if (threshold < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(threshold), threshold, "the threshold is at least 1");
        }

        if (threshold > indices.Length)
        {
            throw new ArgumentOutOfRangeException(nameof(threshold), threshold, $"threshold {threshold} exceeds the {indices.Length} shares");
        }

        var coefficients = new Field521[threshold];
        coefficients[0] = secret;
        for (int i = 1; i < threshold; i++)
        {
            coefficients[i] = Field521.Random();
        }

        var shares = new Field521[indices.Length];
        for (int s = 0; s < indices.Length; s++)
        {
            int x = indices[s];
            if (x < 1 || x > MaxIndex)
            {
                throw new ArgumentOutOfRangeException(nameof(indices), x, $"share indices are within [1, {MaxIndex}]");
            }

            Field521 acc = coefficients[threshold - 1];
            for (int j = threshold - 2; j >= 0; j--)
            {
                acc = Field521.MulSmallAdd(acc, (ulong)x, coefficients[j]);
            }

            shares[s] = acc;
        }

        Array.Clear(coefficients);
        return shares;
    }

    /// <summary>Interpolates f(0) from points with distinct indices in [1, MaxIndex].</summary>
    /// <exception cref="ArgumentException">Indices repeat or are out of range.</exception>
    public static Field521 Reconstruct(ReadOnlySpan<int> indices, ReadOnlySpan<Field521> values)
    {
        int t = indices.Length;
        if (t == 0 || values.Length != t)
        {
            throw new ArgumentException("reconstruction needs one value per index, and at least one", nameof(values));
        }

        var seen = new HashSet<int>();
        foreach (int x in indices)
        {
            if (x < 1 || x > MaxIndex || !seen.Add(x))
            {
                throw new ArgumentException($"share index {x} is out of range or repeated", nameof(indices));
            }
        }

        // lambda_i = N / d_i with N = prod x_j and d_i = x_i * prod_{j != i} (x_j - x_i).
        var d = new Field521[t];
        Field521 numerator = Field521.FromUInt64(1);
        ulong packed = 1;
        for (int j = 0; j < t; j++)
        {
            MultiplyPacked(ref numerator, ref packed, (ulong)indices[j]);
        }

        Flush(ref numerator, ref packed);
        for (int i = 0; i < t; i++)
        {
            Field521 acc = Field521.FromUInt64(1);
            ulong p = (ulong)indices[i];
            bool negative = false;
            for (int j = 0; j < t; j++)
            {
                if (j == i)
                {
                    continue;
                }

                long diff = (long)indices[j] - indices[i];
                if (diff < 0)
                {
                    negative = !negative;
                    diff = -diff;
                }

                MultiplyPacked(ref acc, ref p, (ulong)diff);
            }

            Flush(ref acc, ref p);
            d[i] = negative ? Field521.Negate(acc) : acc;
        }

        // Batch inversion (Montgomery's trick): one field inversion for all d_i.
        var prefix = new Field521[t];
        Field521 running = Field521.FromUInt64(1);
        for (int i = 0; i < t; i++)
        {
            prefix[i] = running;
            running = Field521.Mul(running, d[i]);
        }

        Field521 inverse = Field521.Inverse(running);
        Field521 sum = Field521.Zero;
        for (int i = t - 1; i >= 0; i--)
        {
            Field521 invD = Field521.Mul(inverse, prefix[i]);
            inverse = Field521.Mul(inverse, d[i]);
            sum = Field521.Add(sum, Field521.Mul(values[i], invD));
        }

        return Field521.Mul(sum, numerator);
    }

    private static void MultiplyPacked(ref Field521 acc, ref ulong packed, ulong factor)
    {
        if (packed >= (1UL << 43))
        {
            Flush(ref acc, ref packed);
        }

        packed *= factor;
    }

    private static void Flush(ref Field521 acc, ref ulong packed)
    {
        if (packed != 1)
        {
            acc = Field521.MulSmallAdd(acc, packed, Field521.Zero);
            packed = 1;
        }
    }
}
