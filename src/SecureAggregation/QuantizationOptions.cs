// Fixed-point quantisation into the ring Z_2^32.
// A value x in [-Clip, Clip] becomes round(x * 2^ScaleBits) mod 2^32 (two's complement). A sum of n such values
// stays exact while n * Clip * 2^ScaleBits < 2^31, which Validate checks for the cohort size.
namespace Enclave.SecureAggregation;

public sealed record QuantizationOptions
{
    public const int MinScaleBits = 1;
    public const int MaxScaleBits = 30;

    public QuantizationOptions(double clip, int scaleBits)
    {
        if (!double.IsFinite(clip) || clip <= 0)
        {
            throw new ArgumentOutOfRangeException(nameof(clip), clip, "the clipping range must be a positive finite number");
        }

        if (scaleBits < MinScaleBits || scaleBits > MaxScaleBits)
        {
            throw new ArgumentOutOfRangeException(nameof(scaleBits), scaleBits, $"scale bits must be within [{MinScaleBits}, {MaxScaleBits}]");
        }

        Clip = clip;
        ScaleBits = scaleBits;
    }

    public double Clip { get; }

    public int ScaleBits { get; }

    public double Scale => Math.ScaleB(1.0, ScaleBits);

    /// <summary>The largest cohort whose sum cannot wrap around the signed ring.</summary>
    public long MaxCohortSize => (long)Math.Floor((Math.ScaleB(1.0, 31) - 1) / Math.Ceiling(Clip * Scale + 1));

    /// <summary>Throws when summing <paramref name="cohortSize"/> clipped values could overflow the ring.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The cohort is too large for this clip and scale.</exception>
    public void EnsureCohortFits(int cohortSize)
    {
        if (cohortSize < 1)
        {
            throw new ArgumentOutOfRangeException(nameof(cohortSize), cohortSize, "a cohort has at least one member");
        }

        if (cohortSize > MaxCohortSize)
        {
            throw new ArgumentOutOfRangeException(nameof(cohortSize), cohortSize,
                $"{cohortSize} clients x clip {Clip} x 2^{ScaleBits} can overflow Z_2^32; at most {MaxCohortSize} fit");
        }
    }
}
