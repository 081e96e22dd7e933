
namespace Enclave.Training.Tests;

/// <summary>
/// A direct double-precision transcription of the CNN of docs/formats.md section 7b on 28×28 images, used to check
/// the documented layout: conv1 <c>W[32,1,5,5] b[32]</c>, conv2 <c>W[64,32,5,5] b[64]</c>, fc1 <c>W[H,1024] b[H]</c>,
/// fc2 <c>W[10,H] b[10]</c>; ReLU and 2×2 max-pooling after each convolution; flatten in (channel, row, col) order.
/// </summary>
internal static class ReferenceCnn
{
    /// <summary>Mean cross-entropy and accuracy over a set.</summary>
    public static (double Loss, double Accuracy) Evaluate(float[] model, int hidden, ExampleSet set)
    {
        double[] p = Array.ConvertAll(model, v => (double)v);
        double loss = 0;
        int correct = 0;
        for (int n = 0; n < set.Count; n++)
        {
            double[] logits = Forward(p, hidden, set.Pixels.Span.Slice(n * 784, 784));
            int label = set.Labels.Span[n];
            double max = logits.Max();
            loss += max + Math.Log(logits.Sum(v => Math.Exp(v - max))) - logits[label];
            if (Array.IndexOf(logits, max) == label)
            {
                correct++;
            }
        }

        return (loss / set.Count, (double)correct / set.Count);
    }

    private static double[] Forward(double[] p, int hidden, ReadOnlySpan<byte> pixels)
    {
        var x = new double[1, 28, 28];
        for (int i = 0; i < 784; i++)
        {
            x[0, i / 28, i % 28] = pixels[i] / 255.0;
        }

        int offset = 0;
        double[,,] a = Pool(Conv(x, p, ref offset, 32));
        a = Pool(Conv(a, p, ref offset, 64));
        double[] flat = new double[a.Length];
        int f = 0;
        foreach (double v in a)
        {
            flat[f++] = v;
        }

        double[] h = Linear(flat, p, ref offset, hidden);
        for (int j = 0; j < h.Length; j++)
        {
            h[j] = Math.Max(0, h[j]);
        }

        return Linear(h, p, ref offset, 10);
    }

    private static double[,,] Conv(double[,,] input, double[] p, ref int offset, int outputs)
    {
        int inputs = input.GetLength(0);
        int rows = input.GetLength(1) - 4;
        int cols = input.GetLength(2) - 4;
        int weights = offset;
        int biases = offset + (outputs * inputs * 25);
        var z = new double[outputs, rows, cols];
        for (int o = 0; o < outputs; o++)
        {
            for (int r = 0; r < rows; r++)
            {
                for (int c = 0; c < cols; c++)
                {
                    double sum = p[biases + o];
                    for (int i = 0; i < inputs; i++)
                    {
                        for (int kr = 0; kr < 5; kr++)
                        {
                            for (int kc = 0; kc < 5; kc++)
                            {
                                sum += p[weights + (((((o * inputs) + i) * 5) + kr) * 5) + kc] * input[i, r + kr, c + kc];
                            }
                        }
                    }

                    z[o, r, c] = Math.Max(0, sum);
                }
            }
        }

        offset = biases + outputs;
        return z;
    }

    private static double[,,] Pool(double[,,] input)
    {
        var y = new double[input.GetLength(0), input.GetLength(1) / 2, input.GetLength(2) / 2];
        for (int ch = 0; ch < y.GetLength(0); ch++)
        {
            for (int r = 0; r < y.GetLength(1); r++)
            {
                for (int c = 0; c < y.GetLength(2); c++)
                {
                    y[ch, r, c] = Math.Max(
                        Math.Max(input[ch, 2 * r, 2 * c], input[ch, 2 * r, (2 * c) + 1]),
                        Math.Max(input[ch, (2 * r) + 1, 2 * c], input[ch, (2 * r) + 1, (2 * c) + 1]));
                }
            }
        }

        return y;
    }

    private static double[] Linear(double[] input, double[] p, ref int offset, int outputs)
    {
        int biases = offset + (outputs * input.Length);
        var y = new double[outputs];
        for (int o = 0; o < outputs; o++)
        {
            double sum = p[biases + o];
            for (int i = 0; i < input.Length; i++)
            {
                sum += p[offset + (o * input.Length) + i] * input[i];
            }

            y[o] = sum;
        }

        offset = biases + outputs;
        return y;
    }
}
