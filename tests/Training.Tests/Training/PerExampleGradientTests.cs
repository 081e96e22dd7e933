
namespace Enclave.Training.Tests;

/// <summary>DP-SGD's direct per-example gradients against one ordinary backward pass per example.</summary>
public sealed class PerExampleGradientTests
{
    private const int Examples = 8;

    public static TheoryData<ModelKind> Kinds => [ModelKind.Mlp, ModelKind.Cnn];

    [Theory]
    [MemberData(nameof(Kinds))]
    public void DirectPerExampleGradientsMatchPerExampleBackwardPasses(ModelKind kind)
    {
        (ModelSpec spec, float[] model, ExampleSet data) = Setup(kind);

        float[][] direct = PerExampleGradients.Compute(spec, model, data);

        Assert.Equal(Examples, direct.Length);
        for (int i = 0; i < Examples; i++)
        {
            double[] reference = TrainingData.ToDouble(PerExampleGradients.SummedGradient(spec, model, TrainingData.Subset(data, i, 1)));
            double error = TrainingData.RelativeError(reference, direct[i]);
            Assert.True(error < 1e-5, $"example {i}: relative error {error:E2}");
        }
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public void NormsAndClippedSumMatchPerExampleBackwardPasses(ModelKind kind)
    {
        (ModelSpec spec, float[] model, ExampleSet data) = Setup(kind);
        double[][] reference = Enumerable.Range(0, Examples)
            .Select(i => TrainingData.ToDouble(PerExampleGradients.SummedGradient(spec, model, TrainingData.Subset(data, i, 1))))
            .ToArray();
        double[] referenceNorms = reference.Select(g => Math.Sqrt(g.Sum(v => v * v))).ToArray();
        double clip = referenceNorms.Order().ElementAt(Examples / 2);

        (float[] norms, float[] clippedSum) = PerExampleGradients.ClipAndSum(spec, model, data, clip);

        var expectedSum = new double[model.Length];
        for (int i = 0; i < Examples; i++)
        {
            Assert.Equal(referenceNorms[i], norms[i], referenceNorms[i] * 1e-5);
            double factor = Math.Min(1, clip / referenceNorms[i]);
            for (int j = 0; j < expectedSum.Length; j++)
            {
                expectedSum[j] += factor * reference[i][j];
            }
        }

        Assert.Contains(referenceNorms, n => n > clip * 1.01);
        double error = TrainingData.RelativeError(expectedSum, clippedSum);
        Assert.True(error < 1e-5, $"clipped sum: relative error {error:E2}");
    }

    [Theory]
    [MemberData(nameof(Kinds))]
    public void EveryClippedPerExampleGradientHasNormAtMostC(ModelKind kind)
    {
        (ModelSpec spec, float[] model, ExampleSet data) = Setup(kind);
        const double Clip = 0.05;

        float[][] gradients = PerExampleGradients.Compute(spec, model, data);
        (float[] norms, float[] clippedSum) = PerExampleGradients.ClipAndSum(spec, model, data, Clip);

        var sum = new double[model.Length];
        for (int i = 0; i < Examples; i++)
        {
            Assert.True(norms[i] > Clip, "every example should need clipping at this bound");
            float factor = (float)Math.Min(1, Clip / norms[i]);
            float[] clipped = Array.ConvertAll(gradients[i], g => g * factor);
            double norm = TrainingData.Norm(clipped);
            Assert.InRange(norm, Clip * (1 - 1e-5), Clip * (1 + 1e-5));
            for (int j = 0; j < sum.Length; j++)
            {
                sum[j] += clipped[j];
            }
        }

        Assert.True(TrainingData.Norm(clippedSum) <= Examples * Clip * (1 + 1e-5));
        Assert.True(TrainingData.RelativeError(sum, clippedSum) < 1e-5);
    }

    private static (ModelSpec Spec, float[] Model, ExampleSet Data) Setup(ModelKind kind)
    {
        ModelSpec spec = new(kind, Hidden: 16);
        float[] model = TrainingData.ScaledUp(spec.InitialModel(3), 3);
        return (spec, model, TrainingData.Subset(TrainingData.Train, 100, Examples));
    }
}
