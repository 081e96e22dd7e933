
namespace Enclave.Training.Tests;

/// <summary>Fashion-MNIST subsets and vector helpers shared by the training tests.</summary>
internal static class TrainingData
{
    private static readonly Lazy<ExampleSet> s_train = new(() => TestSupport.LoadFashionMnist("train", 2000));
    private static readonly Lazy<ExampleSet> s_heldOut = new(() => TestSupport.LoadFashionMnist("t10k", 1000));

    /// <summary>The first 2,000 training examples.</summary>
    public static ExampleSet Train => s_train.Value;

    /// <summary>The first 1,000 test examples.</summary>
    public static ExampleSet HeldOut => s_heldOut.Value;

    public static ExampleSet Subset(ExampleSet set, int start, int count) =>
        ExampleSet.Create(
            set.Labels.Span.Slice(start, count),
            set.Pixels.Span.Slice(start * set.PixelsPerExample, count * set.PixelsPerExample),
            set.Rows,
            set.Cols);

    /// <summary>The same images, every label moved to the next class.</summary>
    public static ExampleSet Poisoned(ExampleSet set)
    {
        byte[] labels = set.Labels.ToArray();
        for (int i = 0; i < labels.Length; i++)
        {
            labels[i] = (byte)((labels[i] + 1) % 10);
        }

        return ExampleSet.Create(labels, set.Pixels.Span, set.Rows, set.Cols);
    }

    public static double Norm(ReadOnlySpan<float> values)
    {
        double sum = 0;
        foreach (float v in values)
        {
            sum += (double)v * v;
        }

        return Math.Sqrt(sum);
    }

    /// <summary>‖actual − expected‖ / ‖expected‖.</summary>
    public static double RelativeError(IReadOnlyList<double> expected, ReadOnlySpan<float> actual)
    {
        Assert.Equal(expected.Count, actual.Length);
        double error = 0;
        double scale = 0;
        for (int i = 0; i < actual.Length; i++)
        {
            error += (actual[i] - expected[i]) * (actual[i] - expected[i]);
            scale += expected[i] * expected[i];
        }

        Assert.True(scale > 0, "the expected vector is zero");
        return Math.Sqrt(error / scale);
    }

    public static double[] ToDouble(float[] values) => Array.ConvertAll(values, v => (double)v);

    /// <summary>Larger weights make every block of the layout matter to the loss.</summary>
    public static float[] ScaledUp(float[] model, float factor)
    {
        var scaled = new float[model.Length];
        for (int i = 0; i < model.Length; i++)
        {
            scaled[i] = model[i] * factor;
        }

        return scaled;
    }
}
