using Enclave.Privacy;

namespace Enclave.Training;

/// <summary>
/// What one local training run does: the model, the optimiser, FedProx, the per-contribution bound and DP-SGD.
/// </summary>
/// <param name="Model">The architecture of the global model.</param>
/// <param name="Epochs">Passes over the local examples (without <paramref name="Dp"/>); 0 only evaluates the global model.</param>
/// <param name="BatchSize">Examples per SGD step (without <paramref name="Dp"/>); the last batch of an epoch may be smaller.</param>
/// <param name="LearningRate">SGD step size; 0 leaves the model unchanged.</param>
/// <param name="Momentum">SGD momentum in [0, 1), torch's form: <c>v ← μ·v + g</c>, <c>w ← w − lr·v</c>.</param>
/// <param name="ProximalMu">
/// FedProx μ ≥ 0: the local objective gains <c>μ/2·‖w − w_global‖²</c> (its gradient is added unclipped after the data
/// gradient); 0 is FedAvg.
/// </param>
/// <param name="UpdateClipNorm">
/// When &gt; 0, the returned delta is scaled down to L2 norm at most this (the attested per-contribution bound);
/// 0 returns it unscaled.
/// </param>
/// <param name="Dp">Record-level DP-SGD settings, or null for plain SGD over shuffled epochs.</param>
/// <param name="Seed">Seed of the example shuffling; equal seeds give equal results without DP.</param>
public sealed record LocalTrainingPlan(
    ModelSpec Model,
    int Epochs = 1,
    int BatchSize = 64,
    double LearningRate = 0.05,
    double Momentum = 0.9,
    double ProximalMu = 0,
    double UpdateClipNorm = 0,
    DpSgdSettings? Dp = null,
    ulong Seed = 1)
{
    /// <summary>Throws when a value is outside its documented range.</summary>
    /// <exception cref="ArgumentNullException"><see cref="Model"/> is null.</exception>
    /// <exception cref="ArgumentOutOfRangeException">A value is out of range.</exception>
    public void Validate()
    {
        ArgumentNullException.ThrowIfNull(Model);
        Model.Validate();
        if (Epochs is < 0 or > TrainingOptions.MaxEpochs)
        {
            throw new ArgumentOutOfRangeException(nameof(Epochs), Epochs, $"Epochs must be 0..{TrainingOptions.MaxEpochs}.");
        }

        if (BatchSize is < 1 or > TrainingOptions.MaxBatchSize)
        {
            throw new ArgumentOutOfRangeException(nameof(BatchSize), BatchSize, $"BatchSize must be 1..{TrainingOptions.MaxBatchSize}.");
        }

        if (!double.IsFinite(LearningRate) || LearningRate < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(LearningRate), LearningRate, "LearningRate must be finite and not negative.");
        }

        if (!double.IsFinite(Momentum) || Momentum < 0 || Momentum >= 1)
        {
            throw new ArgumentOutOfRangeException(nameof(Momentum), Momentum, "Momentum must be in [0, 1).");
        }

        if (!double.IsFinite(ProximalMu) || ProximalMu < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(ProximalMu), ProximalMu, "ProximalMu must be finite and not negative.");
        }

        if (!double.IsFinite(UpdateClipNorm) || UpdateClipNorm < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(UpdateClipNorm), UpdateClipNorm, "UpdateClipNorm must be finite and not negative.");
        }

        Dp?.Validate();
    }

    /// <summary>What an enclave trains for round <paramref name="round"/> of a training plan (docs/formats.md section
    /// 14): its model, local optimiser, FedProx term, update bound and DP-SGD settings. The seed, offset by the round,
    /// drives shuffling only; DP sampling and noise come from a secret generator.</summary>
    public static LocalTrainingPlan ForRound(TrainingPlan plan, uint round)
    {
        ArgumentNullException.ThrowIfNull(plan);
        return new LocalTrainingPlan(
            ModelSpec.For(plan.Model),
            Epochs: plan.LocalEpochs,
            BatchSize: Math.Max(plan.BatchSize, 1),
            LearningRate: plan.Optimizer.LearningRate,
            Momentum: plan.Optimizer.Momentum,
            ProximalMu: plan.Algorithm.ProximalMu,
            UpdateClipNorm: plan.UpdateClipNorm,
            Dp: plan.Privacy is { } dp ? new DpSgdSettings(dp.SamplingRate, dp.NoiseMultiplier, dp.ExampleClipNorm, dp.StepsPerRound) : null,
            Seed: plan.Seed + round);
    }
}
