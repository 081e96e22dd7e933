using System.Diagnostics;
using System.Reflection;
using Enclave.Aggregator.Data;
using Enclave.Aggregator.Model;

namespace Enclave.Aggregator.Tests;

public sealed class MlpModelTests
{
    private static readonly Lazy<(byte[] Pixels, byte[] Labels, int Count)> s_test =
        new(() => FashionMnist.LoadTest(FashionMnist.DefaultDirectory));

    [Theory]
    [InlineData(1, 805)]
    [InlineData(16, 12_730)]
    [InlineData(128, 101_770)]
    [InlineData(MlpModel.MaxHidden, (795 * MlpModel.MaxHidden) + 10)]
    public void ParameterCountFollowsTheLayout(int hidden, int expected)
    {
        Assert.Equal(expected, MlpModel.ParameterCount(hidden));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(-5)]
    [InlineData(MlpModel.MaxHidden + 1)]
    public void ParameterCountRejectsABadWidth(int hidden)
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => MlpModel.ParameterCount(hidden));
        Assert.Throws<ArgumentOutOfRangeException>(() => MlpModel.Initialize(hidden, 1));
    }

    [Fact]
    public void InitializeIsDeterministicAndSeedDependent()
    {
        float[] a = MlpModel.Initialize(32, 7);
        float[] b = MlpModel.Initialize(32, 7);
        float[] c = MlpModel.Initialize(32, 8);

        Assert.Equal(a, b);
        Assert.NotEqual(a, c);
    }

    [Fact]
    public void InitializeDrawsLikeTorchLinear()
    {
        const int Hidden = 128;
        float[] model = MlpModel.Initialize(Hidden, 1);
        int layer1 = (784 * Hidden) + Hidden;
        float bound1 = 1f / MathF.Sqrt(784);
        float bound2 = 1f / MathF.Sqrt(Hidden);

        Assert.Equal(MlpModel.ParameterCount(Hidden), model.Length);
        CheckUniform(model.AsSpan(0, layer1), bound1);
        CheckUniform(model.AsSpan(layer1), bound2);
    }

    [Fact]
    public void AnInitialModelIsNearChance()
    {
        (byte[] pixels, byte[] labels, int count) = s_test.Value;
        foreach (ulong seed in new ulong[] { 1, 2 })
        {
            double accuracy = MlpModel.Accuracy(MlpModel.Initialize(128, seed), 128, pixels, labels, count);

            Assert.InRange(accuracy, 0.05, 0.2);
        }
    }

    [Fact]
    public void AccuracyOfTenThousandImagesIsFast()
    {
        (byte[] pixels, byte[] labels, int count) = s_test.Value;
        float[] model = MlpModel.Initialize(128, 4);
        MlpModel.Accuracy(model, 128, pixels, labels, 100);

        // Optimised builds take well under a second; unoptimised (Debug) code is several times slower.
        bool optimised = typeof(MlpModel).Assembly.GetCustomAttribute<DebuggableAttribute>()?.IsJITOptimizerDisabled != true;
        TimeSpan limit = TimeSpan.FromSeconds(optimised ? 2 : 30);

        var watch = Stopwatch.StartNew();
        MlpModel.Accuracy(model, 128, pixels, labels, count);

        Assert.True(watch.Elapsed < limit, $"10,000 images took {watch.Elapsed}");
    }

    [Fact]
    public void HandBuiltModelPredictsTheExpectedClasses()
    {
        // Hidden unit 0 reads pixel 0; hidden unit 1 reads pixel 1 minus twice pixel 0.
        // Class 3 follows unit 0, class 7 follows unit 1, class 9 is pushed down by unit 1, class 5 has bias 0.5.
        var model = new HandModel(hidden: 2);
        model.W1(0, 0) = 1;
        model.W1(1, 1) = 1;
        model.W1(1, 0) = -2;
        model.B1(1) = 0;
        model.W2(3, 0) = 1;
        model.W2(7, 1) = 1;
        model.W2(9, 1) = -5;
        model.B2(5) = 0.5f;

        byte[] onlyPixel0 = Image((0, 255));
        byte[] onlyPixel1 = Image((1, 255));
        byte[] blank = Image();
        byte[] both = Image((0, 255), (1, 255));
        byte[] dimPixel0 = Image((0, 100));

        Assert.Equal(3, MlpModel.Predict(model.Vector, 2, onlyPixel0));
        Assert.Equal(7, MlpModel.Predict(model.Vector, 2, onlyPixel1));
        Assert.Equal(5, MlpModel.Predict(model.Vector, 2, blank));

        // Unit 1 is relu(1 - 2) = 0, so class 9 is not lifted to +5 and class 3 wins.
        Assert.Equal(3, MlpModel.Predict(model.Vector, 2, both));

        // Pixels are scaled by 1/255: unit 0 is 100/255 < 0.5, so the bias of class 5 wins.
        Assert.Equal(5, MlpModel.Predict(model.Vector, 2, dimPixel0));

        byte[] pixels = [.. onlyPixel0, .. onlyPixel1, .. blank, .. both, .. dimPixel0];
        byte[] labels = [3, 7, 5, 9, 5];
        Assert.Equal(0.8, MlpModel.Accuracy(model.Vector, 2, pixels, labels, 5), 12);
        Assert.Equal(1.0, MlpModel.Accuracy(model.Vector, 2, pixels, labels, 3), 12);
    }

    [Fact]
    public void TiesGoToTheFirstClass()
    {
        var model = new HandModel(hidden: 1);
        model.B2(4) = 1;
        model.B2(6) = 1;

        Assert.Equal(4, MlpModel.Predict(model.Vector, 1, Image()));
    }

    [Fact]
    public void AccuracyRejectsInconsistentArguments()
    {
        float[] model = MlpModel.Initialize(4, 1);
        var pixels = new byte[2 * 784];
        var labels = new byte[2];

        Assert.Throws<ArgumentException>(() => MlpModel.Accuracy(model.AsSpan(1), 4, pixels, labels, 2));
        Assert.Throws<ArgumentException>(() => MlpModel.Accuracy(model, 5, pixels, labels, 2));
        Assert.Throws<ArgumentException>(() => MlpModel.Accuracy(model, 4, pixels.AsSpan(1), labels, 2));
        Assert.Throws<ArgumentException>(() => MlpModel.Accuracy(model, 4, pixels, labels.AsSpan(1), 2));
        Assert.Throws<ArgumentOutOfRangeException>(() => MlpModel.Accuracy(model, 4, pixels, labels, 0));
        Assert.Throws<ArgumentException>(() => MlpModel.Predict(model, 4, new byte[783]));
    }

    private static void CheckUniform(ReadOnlySpan<float> values, float bound)
    {
        double sum = 0;
        float min = float.MaxValue;
        float max = float.MinValue;
        foreach (float v in values)
        {
            sum += v;
            min = Math.Min(min, v);
            max = Math.Max(max, v);
        }

        Assert.InRange(min, -bound, -0.95f * bound);
        Assert.InRange(max, 0.95f * bound, bound);
        Assert.InRange(sum / values.Length, -0.02 * bound, 0.02 * bound);
    }

    private static byte[] Image(params (int Index, byte Value)[] pixels)
    {
        var image = new byte[784];
        foreach ((int index, byte value) in pixels)
        {
            image[index] = value;
        }

        return image;
    }

    /// <summary>A model vector written block by block in the section 7 layout.</summary>
    private sealed class HandModel(int hidden)
    {
        public float[] Vector { get; } = new float[(795 * hidden) + 10];

        public ref float W1(int j, int i) => ref Vector[(j * 784) + i];

        public ref float B1(int j) => ref Vector[(784 * hidden) + j];

        public ref float W2(int k, int j) => ref Vector[(785 * hidden) + (k * hidden) + j];

        public ref float B2(int k) => ref Vector[(795 * hidden) + k];
    }
}
