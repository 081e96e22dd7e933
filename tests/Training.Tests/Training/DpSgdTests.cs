
namespace Enclave.Training.Tests;

public sealed class DpSgdTests
{
    [Theory]
    [InlineData(1, 2.0, 0.5)]
    [InlineData(4, 1.1, 3.0)]
    public void NoiseHasStdLearningRateTimesSigmaCOverTheExpectedBatch(int steps, double sigma, double clip)
    {
        // q·N = 3.2e-8: the Poisson sample is empty, so the delta is the noise alone, summed over the steps.
        const double Q = 1e-9;
        const double TargetStd = 0.01;
        ExampleSet data = TrainingData.Subset(TrainingData.Train, 0, 32);
        ModelSpec spec = ModelSpec.Mlp();
        double learningRate = TargetStd * Q * data.Count / (sigma * clip);
        var plan = new LocalTrainingPlan(spec, LearningRate: learningRate, Momentum: 0, Dp: new DpSgdSettings(Q, sigma, clip, steps));

        TrainingResult result = LocalTrainer.TrainWithFixedNoise(spec.InitialModel(1), data, plan, noiseSeed: 77);

        double expectedStd = TargetStd * Math.Sqrt(steps);
        double mean = result.Delta.Average(d => (double)d);
        double std = Math.Sqrt(result.Delta.Average(d => ((double)d - mean) * (d - mean)));
        double kurtosis = result.Delta.Average(d => Math.Pow((d - mean) / std, 4));
        Assert.Equal(steps, result.Steps);
        Assert.InRange(std, 0.99 * expectedStd, 1.01 * expectedStd);
        Assert.InRange(mean, -5 * expectedStd / Math.Sqrt(result.Delta.Length), 5 * expectedStd / Math.Sqrt(result.Delta.Length));
        Assert.InRange(kurtosis, 2.9, 3.1);
    }

    [Theory]
    [InlineData(ModelKind.Mlp)]
    [InlineData(ModelKind.Cnn)]
    public void WithEveryExampleNoNoiseAndNoClippingItIsFullBatchSgd(ModelKind kind)
    {
        var spec = new ModelSpec(kind, Hidden: 16);
        float[] global = TrainingData.ScaledUp(spec.InitialModel(3), 2);
        ExampleSet data = TrainingData.Subset(TrainingData.Train, 0, 16);
        var plan = new LocalTrainingPlan(spec, Epochs: 2, BatchSize: data.Count, LearningRate: 0.1, Momentum: 0.9, ProximalMu: 0.5);

        TrainingResult sgd = LocalTrainer.Train(global, data, plan);
        TrainingResult dp = LocalTrainer.TrainWithFixedNoise(global, data, plan with { Dp = new DpSgdSettings(1, 0, 1e9, 2) }, noiseSeed: 1);

        Assert.Equal(2, dp.Steps);
        double error = TrainingData.RelativeError(TrainingData.ToDouble(sgd.Delta), dp.Delta);
        Assert.True(error < 1e-4, $"relative error {error:E2}");
    }

    [Fact]
    public void EqualNoiseSeedsGiveEqualRunsAndOthersDiffer()
    {
        ExampleSet data = TrainingData.Subset(TrainingData.Train, 0, 200);
        ModelSpec spec = ModelSpec.Cnn(32);
        float[] global = spec.InitialModel(4);
        var plan = new LocalTrainingPlan(spec, LearningRate: 0.1, Dp: new DpSgdSettings(0.1, 1.0, 1.0, 3));

        TrainingResult first = LocalTrainer.TrainWithFixedNoise(global, data, plan, noiseSeed: 5);
        TrainingResult second = LocalTrainer.TrainWithFixedNoise(global, data, plan, noiseSeed: 5);
        TrainingResult other = LocalTrainer.TrainWithFixedNoise(global, data, plan, noiseSeed: 6);
        TrainingResult secret = LocalTrainer.Train(global, data, plan);

        Assert.Equal(first.Delta, second.Delta);
        Assert.NotEqual(first.Delta, other.Delta);
        Assert.NotEqual(first.Delta, secret.Delta);
    }

    [Fact]
    public void DpSgdOnTheMlpStillLearns()
    {
        ModelSpec spec = ModelSpec.Mlp();
        float[] global = spec.InitialModel(6);
        var plan = new LocalTrainingPlan(
            spec, LearningRate: 0.1, Momentum: 0.9, UpdateClipNorm: 20, Dp: new DpSgdSettings(0.05, 1.0, 1.0, 100));

        TrainingResult result = LocalTrainer.TrainWithFixedNoise(global, TrainingData.Train, plan, noiseSeed: 3);

        double heldOut = ModelEvaluator.Evaluate(spec, global.Select((g, i) => g + result.Delta[i]).ToArray(), TrainingData.HeldOut).Accuracy;
        Assert.True(heldOut > 0.6, $"held-out accuracy after DP-SGD is {heldOut:F3}");
        Assert.True(TrainingData.Norm(result.Delta) <= 20);
    }
}
