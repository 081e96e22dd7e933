
namespace Enclave.Training.Tests;

/// <summary>
/// A direct double-precision transcription of the model of docs/formats.md section 7, used to check the trainer:
/// <c>W1[H,784]</c>, <c>b1[H]</c>, <c>W2[10,H]</c>, <c>b2[10]</c>, row-major; input pixels / 255; ReLU.
/// </summary>
internal static class ReferenceMlp
{
    /// <summary>Mean cross-entropy and accuracy over a set.</summary>
    public static (double Loss, double Accuracy) Evaluate(float[] model, int hidden, ExampleSet set)
    {
        double[] parameters = Array.ConvertAll(model, v => (double)v);
        double loss = 0;
        int correct = 0;
        for (int n = 0; n < set.Count; n++)
        {
            double[] logits = Forward(parameters, hidden, Image(set, n), out _, out _);
            int label = set.Labels.Span[n];
            loss += LogSumExp(logits) - logits[label];
            if (ArgMax(logits) == label)
            {
                correct++;
            }
        }

        return (loss / set.Count, (double)correct / set.Count);
    }

    /// <summary>Gradient of the mean cross-entropy over the whole set, in the model vector's layout.</summary>
    public static double[] Gradient(double[] model, int hidden, ExampleSet set)
    {
        int w1 = 0;
        int b1 = 784 * hidden;
        int w2 = b1 + hidden;
        int b2 = w2 + (10 * hidden);
        var gradient = new double[model.Length];
        for (int n = 0; n < set.Count; n++)
        {
            double[] x = Image(set, n);
            double[] logits = Forward(model, hidden, x, out double[] z1, out double[] h);
            double normaliser = LogSumExp(logits);
            var gOut = new double[10];
            for (int k = 0; k < 10; k++)
            {
                gOut[k] = Math.Exp(logits[k] - normaliser) - (k == set.Labels.Span[n] ? 1 : 0);
                gradient[b2 + k] += gOut[k];
                for (int j = 0; j < hidden; j++)
                {
                    gradient[w2 + (k * hidden) + j] += gOut[k] * h[j];
                }
            }

            for (int j = 0; j < hidden; j++)
            {
                if (z1[j] <= 0)
                {
                    continue;
                }

                double gz = 0;
                for (int k = 0; k < 10; k++)
                {
                    gz += gOut[k] * model[w2 + (k * hidden) + j];
                }

                gradient[b1 + j] += gz;
                for (int i = 0; i < 784; i++)
                {
                    gradient[w1 + (j * 784) + i] += gz * x[i];
                }
            }
        }

        for (int i = 0; i < gradient.Length; i++)
        {
            gradient[i] /= set.Count;
        }

        return gradient;
    }

    private static double[] Forward(double[] model, int hidden, double[] x, out double[] z1, out double[] h)
    {
        int b1 = 784 * hidden;
        int w2 = b1 + hidden;
        int b2 = w2 + (10 * hidden);
        z1 = new double[hidden];
        h = new double[hidden];
        for (int j = 0; j < hidden; j++)
        {
            double z = model[b1 + j];
            for (int i = 0; i < 784; i++)
            {
                z += model[(j * 784) + i] * x[i];
            }

            z1[j] = z;
            h[j] = Math.Max(0, z);
        }

        var logits = new double[10];
        for (int k = 0; k < 10; k++)
        {
            double o = model[b2 + k];
            for (int j = 0; j < hidden; j++)
            {
                o += model[w2 + (k * hidden) + j] * h[j];
            }

            logits[k] = o;
        }

        return logits;
    }

    private static double[] Image(ExampleSet set, int n)
    {
        ReadOnlySpan<byte> pixels = set.Pixels.Span.Slice(n * 784, 784);
        var x = new double[784];
        for (int i = 0; i < 784; i++)
        {
            x[i] = pixels[i] / 255.0;
        }

        return x;
    }

    private static double LogSumExp(double[] values)
    {
        double max = values.Max();
        return max + Math.Log(values.Sum(v => Math.Exp(v - max)));
    }

    private static int ArgMax(double[] values)
    {
        int best = 0;
        for (int k = 1; k < values.Length; k++)
        {
            if (values[k] > values[best])
            {
                best = k;
            }
        }

        return best;
    }
}
