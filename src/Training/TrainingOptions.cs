namespace Enclave.Training;

/// <summary>
/// Hyper-parameters of one local training run of the <c>784 → Hidden → 10</c> MLP.
/// </summary>
/// <param name="Hidden">Width of the hidden layer (the H of docs/formats.md section 7).</param>
/// <param name="Epochs">Passes over the local examples; 0 only evaluates the global model.</param>
/// <param name="BatchSize">Examples per SGD step; the last batch of an epoch may be smaller.</param>
/// <param name="LearningRate">SGD step size; 0 leaves the model unchanged.</param>
/// <param name="Momentum">SGD momentum in [0, 1).</param>
/// <param name="Seed">Seed of the example shuffling (and of torch's generator); equal seeds give equal results.</param>
public sealed record TrainingOptions(
    int Hidden = 128,
    int Epochs = 1,
    int BatchSize = 64,
    double LearningRate = 0.05,
    double Momentum = 0.9,
    ulong Seed = 1)
{
    /// <summary>Largest hidden width accepted.</summary>
    public const int MaxHidden = 4096;

    /// <summary>Largest number of epochs accepted.</summary>
    public const int MaxEpochs = 1000;

    /// <summary>Largest batch size accepted.</summary>
    public const int MaxBatchSize = 65536;

    /// <summary>Throws when a value is outside its documented range.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A value is out of range.</exception>
    public void Validate()
    {
        if (Hidden is < 1 or > MaxHidden)
        {
            throw new ArgumentOutOfRangeException(nameof(Hidden), Hidden, $"Hidden must be 1..{MaxHidden}.");
        }

        if (Epochs is < 0 or > MaxEpochs)
        {
            throw new ArgumentOutOfRangeException(nameof(Epochs), Epochs, $"Epochs must be 0..{MaxEpochs}.");
        }

        if (BatchSize is < 1 or > MaxBatchSize)
        {
            throw new ArgumentOutOfRangeException(nameof(BatchSize), BatchSize, $"BatchSize must be 1..{MaxBatchSize}.");
        }

        if (!double.IsFinite(LearningRate) || LearningRate < 0)
        {
            throw new ArgumentOutOfRangeException(nameof(LearningRate), LearningRate, "LearningRate must be finite and not negative.");
        }

        if (!double.IsFinite(Momentum) || Momentum < 0 || Momentum >= 1)
        {
            throw new ArgumentOutOfRangeException(nameof(Momentum), Momentum, "Momentum must be in [0, 1).");
        }
    }
}
