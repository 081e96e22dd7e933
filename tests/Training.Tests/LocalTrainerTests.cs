
namespace Enclave.Training.Tests;

public sealed class LocalTrainerTests
{
    private static readonly Lazy<ExampleSet> s_train = new(() => TestSupport.LoadFashionMnist("train", 2000));
    private static readonly Lazy<ExampleSet> s_heldOut = new(() => TestSupport.LoadFashionMnist("t10k", 1000));
    private static readonly Lazy<ExampleSet> s_small = new(() => TestSupport.LoadFashionMnist("t10k", 32, skip: 1000));

    [Theory]
    [InlineData(1, 805)]
    [InlineData(16, 12_730)]
    [InlineData(128, 101_770)]
    public void ParameterCountFollowsTheLayout(int hidden, int expected)
    {
        Assert.Equal(expected, LocalTrainer.ParameterCount(hidden));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-1)]
    [InlineData(TrainingOptions.MaxHidden + 1)]
    public void ParameterCountRejectsABadWidth(int hidden)
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => LocalTrainer.ParameterCount(hidden));
    }

    [Fact]
    public void OneEpochOnRealExamplesLearns()
    {
        float[] global = TestSupport.InitialModel(128, seed: 7);
        double before = ReferenceMlp.Evaluate(global, 128, s_heldOut.Value).Accuracy;

        TrainingResult result = LocalTrainer.Train(global, s_train.Value, new TrainingOptions());

        float[] local = Apply(global, result.Delta);
        double after = ReferenceMlp.Evaluate(local, 128, s_heldOut.Value).Accuracy;
        Assert.InRange(before, 0.0, 0.25);
        Assert.True(after > 0.6, $"held-out accuracy after one epoch is {after:F3}");
        Assert.True(after > before + 0.35, $"held-out accuracy went from {before:F3} to {after:F3}");
        Assert.Equal(2000, result.SampleCount);
        Assert.InRange(result.TrainAccuracy, 0.6, 1.0);
        Assert.InRange(result.FinalLoss, 0.1, 1.5);
        Assert.All(result.Delta, d => Assert.True(float.IsFinite(d)));
    }

    [Fact]
    public void TrainingIsDeterministicForAFixedSeed()
    {
        float[] global = TestSupport.InitialModel(32, seed: 3);
        ExampleSet data = TestSupport.LoadFashionMnist("train", 500);
        var options = new TrainingOptions(Hidden: 32, Epochs: 2, BatchSize: 50, Seed: 42);

        TrainingResult first = LocalTrainer.Train(global, data, options);
        TrainingResult second = LocalTrainer.Train(global, data, options);
        TrainingResult otherSeed = LocalTrainer.Train(global, data, options with { Seed = 43 });

        Assert.Equal(first.Delta, second.Delta);
        Assert.Equal(first.FinalLoss, second.FinalLoss);
        Assert.Equal(first.TrainAccuracy, second.TrainAccuracy);
        Assert.NotEqual(first.Delta, otherSeed.Delta);
    }

    [Fact]
    public void ZeroLearningRateGivesAZeroDelta()
    {
        float[] global = TestSupport.InitialModel(128, seed: 11);
        float[] copy = (float[])global.Clone();

        TrainingResult result = LocalTrainer.Train(global, s_small.Value, new TrainingOptions(LearningRate: 0, BatchSize: 8));

        Assert.Equal(global.Length, result.Delta.Length);
        Assert.All(result.Delta, d => Assert.Equal(0f, d));
        Assert.Equal(copy, global);
    }

    [Fact]
    public void ZeroEpochsEvaluatesTheGlobalModelInTheSection7Layout()
    {
        const int Hidden = 16;
        float[] global = TestSupport.InitialModel(Hidden, seed: 5);
        ScaleUp(global);

        TrainingResult result = LocalTrainer.Train(global, s_small.Value, new TrainingOptions(Hidden: Hidden, Epochs: 0));

        (double loss, double accuracy) = ReferenceMlp.Evaluate(global, Hidden, s_small.Value);
        Assert.All(result.Delta, d => Assert.Equal(0f, d));
        Assert.Equal(accuracy, result.TrainAccuracy, 10);
        Assert.Equal(loss, result.FinalLoss, 4);
    }

    [Fact]
    public void OneFullBatchStepMatchesTheReferenceGradient()
    {
        const int Hidden = 16;
        const double LearningRate = 0.1;
        float[] global = TestSupport.InitialModel(Hidden, seed: 9);
        ScaleUp(global);
        ExampleSet data = s_small.Value;

        TrainingResult result = LocalTrainer.Train(
            global, data, new TrainingOptions(Hidden: Hidden, Epochs: 1, BatchSize: data.Count, LearningRate: LearningRate));

        double[] gradient = ReferenceMlp.Gradient(ToDouble(global), Hidden, data);
        AssertClose(gradient.Select(g => -LearningRate * g).ToArray(), result.Delta);
    }

    [Fact]
    public void TwoFullBatchStepsApplyMomentum()
    {
        const int Hidden = 16;
        const double LearningRate = 0.1;
        const double Momentum = 0.9;
        float[] global = TestSupport.InitialModel(Hidden, seed: 13);
        ScaleUp(global);
        ExampleSet data = s_small.Value;

        TrainingResult result = LocalTrainer.Train(
            global,
            data,
            new TrainingOptions(Hidden: Hidden, Epochs: 2, BatchSize: data.Count, LearningRate: LearningRate, Momentum: Momentum));

        double[] theta0 = ToDouble(global);
        double[] g0 = ReferenceMlp.Gradient(theta0, Hidden, data);
        double[] theta1 = theta0.Select((t, i) => t - (LearningRate * g0[i])).ToArray();
        double[] g1 = ReferenceMlp.Gradient(theta1, Hidden, data);
        double[] expected = g0.Select((g, i) => (-LearningRate * g) - (LearningRate * ((Momentum * g) + g1[i]))).ToArray();
        AssertClose(expected, result.Delta);
    }

    [Fact]
    public void ReportsProgressUpToOne()
    {
        var reports = new List<double>();
        float[] global = TestSupport.InitialModel(8, seed: 1);

        LocalTrainer.Train(global, s_small.Value, new TrainingOptions(Hidden: 8, Epochs: 3, BatchSize: 4), new ListProgress(reports));

        Assert.True(reports.Count >= 2);
        Assert.Equal(0.0, reports[0]);
        Assert.Equal(1.0, reports[^1]);
        for (int i = 1; i < reports.Count; i++)
        {
            Assert.True(reports[i] >= reports[i - 1], "progress went backwards");
        }
    }

    [Fact]
    public void RejectsInputsThatDoNotFit()
    {
        float[] model = TestSupport.InitialModel(8, seed: 1);
        ExampleSet data = s_small.Value;
        var options = new TrainingOptions(Hidden: 8);

        Assert.Throws<ArgumentException>(() => LocalTrainer.Train(model[..^1], data, options));
        Assert.Throws<ArgumentException>(() => LocalTrainer.Train(model, data, options with { Hidden = 9 }));
        Assert.Throws<ArgumentException>(() => LocalTrainer.Train(model, ExampleSet.Create([1], new byte[100], 10, 10), options));
        Assert.Throws<ArgumentException>(() => LocalTrainer.Train(model, ExampleSet.Create([], [], 28, 28), options));
        float[] poisoned = (float[])model.Clone();
        poisoned[123] = float.NaN;
        Assert.Throws<ArgumentException>(() => LocalTrainer.Train(poisoned, data, options));
    }

    [Theory]
    [InlineData(0, 1, 64, 0.05, 0.9)]
    [InlineData(8, -1, 64, 0.05, 0.9)]
    [InlineData(8, 1, 0, 0.05, 0.9)]
    [InlineData(8, 1, 64, -0.1, 0.9)]
    [InlineData(8, 1, 64, double.NaN, 0.9)]
    [InlineData(8, 1, 64, 0.05, 1.0)]
    [InlineData(8, 1, 64, 0.05, -0.5)]
    public void RejectsOptionsOutOfRange(int hidden, int epochs, int batchSize, double learningRate, double momentum)
    {
        var options = new TrainingOptions(hidden, epochs, batchSize, learningRate, momentum);

        Assert.Throws<ArgumentOutOfRangeException>(options.Validate);
        Assert.Throws<ArgumentOutOfRangeException>(
            () => LocalTrainer.Train(TestSupport.InitialModel(8, seed: 1), s_small.Value, options));
    }

    private static float[] Apply(float[] global, float[] delta) =>
        global.Select((g, i) => g + delta[i]).ToArray();

    private static double[] ToDouble(float[] values) => Array.ConvertAll(values, v => (double)v);

    /// <summary>Larger weights make every block of the layout matter to the loss.</summary>
    private static void ScaleUp(float[] model)
    {
        for (int i = 0; i < model.Length; i++)
        {
            model[i] *= 4;
        }
    }

    private static void AssertClose(double[] expected, float[] actual)
    {
        Assert.Equal(expected.Length, actual.Length);
        double scale = expected.Max(Math.Abs);
        Assert.True(scale > 1e-4, "the reference step is too small to compare");
        for (int i = 0; i < expected.Length; i++)
        {
            double error = Math.Abs(expected[i] - actual[i]);
            Assert.True(error <= 1e-4 * scale, $"delta[{i}] is {actual[i]}, expected {expected[i]}");
        }
    }

    private sealed class ListProgress(List<double> reports) : IProgress<double>
    {
        public void Report(double value) => reports.Add(value);
    }
}
