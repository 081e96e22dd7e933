namespace Enclave.Training;

/// <summary>
/// Record-level DP-SGD (Abadi et al., 2016) with Poisson sampling, the mechanism the RDP accountant
/// (src/Privacy) bounds: <paramref name="StepsPerRound"/> steps of the subsampled Gaussian mechanism with sampling
/// rate <paramref name="SamplingRate"/> and noise multiplier <paramref name="NoiseMultiplier"/>.
/// </summary>
/// <remarks>
/// At each step every local example is included independently with probability q; each included example's gradient
/// (over all parameters jointly) is clipped to L2 norm C; the clipped gradients are summed, Gaussian noise
/// <c>N(0, σ²C²)</c> is added to every coordinate, and the sum is divided by the expected batch size <c>q·N</c>.
/// An empty sample is allowed: the step then applies noise only. The sample and the noise come from
/// <see cref="DpRandom"/>, keyed from the operating system's CSPRNG for every run: neither is derived from the plan's
/// seed, which the coordinator chooses, because the accountant's bound holds only if the sample and the noise are
/// secret.
/// </remarks>
/// <param name="SamplingRate">q in (0, 1].</param>
/// <param name="NoiseMultiplier">σ ≥ 0 (0 adds no noise and gives no privacy).</param>
/// <param name="ExampleClipNorm">C &gt; 0, the bound on each example's gradient norm.</param>
/// <param name="StepsPerRound">T ≥ 1 steps per local training run; the plan's epochs and batch size are then unused.</param>
public sealed record DpSgdSettings(double SamplingRate, double NoiseMultiplier, double ExampleClipNorm, int StepsPerRound)
{
    /// <summary>Largest number of steps per round accepted.</summary>
    public const int MaxStepsPerRound = 1_000_000;

    /// <summary>Throws when a value is outside its documented range.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A value is out of range.</exception>
    public void Validate()
    {
        if (!double.IsFinite(SamplingRate) || SamplingRate <= 0 || SamplingRate > 1)
        {
            throw new ArgumentOutOfRangeException(nameof(SamplingRate), SamplingRate, "SamplingRate must be in (0, 1].");
        }

        if (!double.IsFinite(NoiseMultiplier) || NoiseMultiplier < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(NoiseMultiplier), NoiseMultiplier, "NoiseMultiplier must be finite and not negative.");
        }

        if (!double.IsFinite(ExampleClipNorm) || ExampleClipNorm <= 0)
        {
            throw new ArgumentOutOfRangeException(nameof(ExampleClipNorm), ExampleClipNorm, "ExampleClipNorm must be finite and positive.");
        }

        if (StepsPerRound is < 1 or > MaxStepsPerRound)
        {
            throw new ArgumentOutOfRangeException(nameof(StepsPerRound), StepsPerRound, $"StepsPerRound must be 1..{MaxStepsPerRound}.");
        }
    }
}
