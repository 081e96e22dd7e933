
namespace Enclave.Training.Tests;

public sealed class ModelSpecTests
{
    private static readonly Lazy<ExampleSet> s_few = new(() => TrainingData.Subset(TrainingData.HeldOut, 0, 16));

    [Theory]
    [InlineData(ModelKind.Mlp, 1, 805)]
    [InlineData(ModelKind.Mlp, 128, 101_770)]
    // 32·25 + 32, 64·32·25 + 64, 1024·H + H, 10·H + 10
    [InlineData(ModelKind.Cnn, 128, 184_586)]
    [InlineData(ModelKind.Cnn, 64, 118_346)]
    public void ParameterCountFollowsTheLayout(ModelKind kind, int hidden, int expected)
    {
        var spec = new ModelSpec(kind, Hidden: hidden);

        Assert.Equal(expected, spec.ParameterCount);
        Assert.Equal(expected, spec.InitialModel(1).Length);
        if (kind == ModelKind.Mlp)
        {
            Assert.Equal(LocalTrainer.ParameterCount(hidden), spec.ParameterCount);
        }
    }

    [Theory]
    [InlineData(ModelKind.Cnn, 15, 28, 10, 128)]
    [InlineData(ModelKind.Mlp, 0, 28, 10, 128)]
    [InlineData(ModelKind.Mlp, 28, 28, 1, 128)]
    [InlineData(ModelKind.Mlp, 28, 28, 10, 0)]
    [InlineData(ModelKind.Mlp, 28, 28, 10, ModelSpec.MaxHidden + 1)]
    [InlineData(ModelKind.Mlp, 1024, 1024, 10, 64)]
    [InlineData((ModelKind)7, 28, 28, 10, 128)]
    public void RejectsSpecsOutOfRange(ModelKind kind, int rows, int cols, int classes, int hidden)
    {
        var spec = new ModelSpec(kind, rows, cols, classes, hidden);

        Assert.Throws<ArgumentOutOfRangeException>(spec.Validate);
        Assert.Throws<ArgumentOutOfRangeException>(() => spec.ParameterCount);
        Assert.Throws<ArgumentOutOfRangeException>(() => spec.InitialModel(1));
    }

    [Theory]
    [InlineData(ModelKind.Mlp)]
    [InlineData(ModelKind.Cnn)]
    public void InitialModelIsSeededAndUniformOnTorchsDefaultBound(ModelKind kind)
    {
        var spec = new ModelSpec(kind);

        float[] first = spec.InitialModel(42);
        Assert.Equal(first, spec.InitialModel(42));
        Assert.NotEqual(first, spec.InitialModel(43));

        // (fan_in, values) per layer in forward order: weight then bias, bound 1/√fan_in for both.
        (int FanIn, int Length)[] layers = kind == ModelKind.Mlp
            ? [(784, (784 * 128) + 128), (128, (128 * 10) + 10)]
            : [(25, (32 * 25) + 32), (800, (64 * 800) + 64), (1024, (128 * 1024) + 128), (128, (10 * 128) + 10)];
        int offset = 0;
        foreach ((int fanIn, int length) in layers)
        {
            double bound = 1 / Math.Sqrt(fanIn);
            ReadOnlySpan<float> values = first.AsSpan(offset, length);
            double sumSquares = 0;
            foreach (float v in values)
            {
                Assert.InRange(v, -bound, bound);
                sumSquares += (double)v * v;
            }

            double std = Math.Sqrt(sumSquares / length);
            Assert.InRange(std, 0.95 * bound / Math.Sqrt(3), 1.05 * bound / Math.Sqrt(3));
            offset += length;
        }

        Assert.Equal(first.Length, offset);
    }

    [Fact]
    public void InitialModelIsPinned()
    {
        // Equal seeds must give equal vectors on every machine: SplitMix64, 53-bit uniforms, one rounding to float.
        float[] model = ModelSpec.Mlp(1).InitialModel(0);
        double bound = 1 / Math.Sqrt(784);
        ulong state = 0x9E3779B97F4A7C15UL;
        ulong z = state;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        z ^= z >> 31;
        double u = (z >> 11) * (1.0 / (1UL << 53));
        Assert.Equal((float)(((2 * u) - 1) * bound), model[0]);
    }

    [Fact]
    public void EvaluatorMatchesTheReferenceMlp()
    {
        float[] model = TrainingData.ScaledUp(ModelSpec.Mlp(16).InitialModel(5), 4);

        (double loss, double accuracy) = ModelEvaluator.Evaluate(ModelSpec.Mlp(16), model, s_few.Value);

        (double expectedLoss, double expectedAccuracy) = ReferenceMlp.Evaluate(model, 16, s_few.Value);
        Assert.Equal(expectedAccuracy, accuracy, 10);
        Assert.Equal(expectedLoss, loss, 4);
    }

    [Fact]
    public void EvaluatorMatchesTheReferenceCnnSoTheDocumentedLayoutHolds()
    {
        ModelSpec spec = ModelSpec.Cnn(16);
        float[] model = TrainingData.ScaledUp(spec.InitialModel(5), 3);
        ExampleSet few = TrainingData.Subset(s_few.Value, 0, 8);

        (double loss, double accuracy) = ModelEvaluator.Evaluate(spec, model, few);

        (double expectedLoss, double expectedAccuracy) = ReferenceCnn.Evaluate(model, 16, few);
        Assert.Equal(expectedAccuracy, accuracy, 10);
        Assert.Equal(expectedLoss, loss, 4);
        Assert.True(expectedLoss > 0.5, "the reference loss is too small to tell layouts apart");
    }

    [Fact]
    public void EvaluatorRejectsWhatDoesNotFit()
    {
        ModelSpec cnn = ModelSpec.Cnn();
        float[] model = cnn.InitialModel(1);
        ExampleSet flat = ExampleSet.Create([1], new byte[784], 784, 1);

        Assert.Throws<ArgumentException>(() => ModelEvaluator.Evaluate(cnn, model[..^1], s_few.Value));
        Assert.Throws<ArgumentException>(() => ModelEvaluator.Evaluate(cnn, model, flat));
        Assert.Throws<ArgumentException>(() => ModelEvaluator.Evaluate(cnn, model, ExampleSet.Create([], [], 28, 28)));
        Assert.Throws<ArgumentException>(
            () => ModelEvaluator.Evaluate(cnn with { Classes = 2 }, (cnn with { Classes = 2 }).InitialModel(1), s_few.Value));
    }
}
