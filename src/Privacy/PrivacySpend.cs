namespace Enclave.Privacy;

/// <summary>
/// <see cref="Steps"/> steps of DP-SGD in which every record joins a step's batch independently with probability
/// <see cref="SamplingRate"/> (Poisson sampling) and the sum of clipped per-record gradients gets Gaussian noise with
/// standard deviation <see cref="NoiseMultiplier"/> times the clipping norm.
/// </summary>
public sealed record PrivacySpend
{
    /// <exception cref="ArgumentOutOfRangeException">
    /// <paramref name="samplingRate"/> is outside [0, 1], <paramref name="noiseMultiplier"/> is not a finite positive
    /// number, or <paramref name="steps"/> is negative.
    /// </exception>
    public PrivacySpend(double samplingRate, double noiseMultiplier, long steps)
    {
        RdpAccountant.Validate(samplingRate, noiseMultiplier);
        ArgumentOutOfRangeException.ThrowIfNegative(steps);
        SamplingRate = samplingRate;
        NoiseMultiplier = noiseMultiplier;
        Steps = steps;
    }

    /// <summary>The Poisson sampling rate q of each step, in [0, 1].</summary>
    public double SamplingRate { get; }

    /// <summary>The noise multiplier σ: noise standard deviation divided by the clipping norm.</summary>
    public double NoiseMultiplier { get; }

    public long Steps { get; }
}
