using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;

namespace Enclave.Aggregator.Model;

/// <summary>
/// The global model as the aggregator sees it: the MLP <c>784 → H → 10</c> with ReLU, held as the flat float32
/// vector of docs/formats.md section 7 (<c>W1[H,784]</c>, <c>b1[H]</c>, <c>W2[10,H]</c>, <c>b2[10]</c>, row-major).
/// Initialisation and evaluation are plain C#, so the aggregator needs no native machine-learning runtime.
/// </summary>
public static class MlpModel
{
    /// <summary>Pixels per image the model takes (28 × 28).</summary>
    public const int InputSize = 784;

    /// <summary>Number of output classes.</summary>
    public const int OutputSize = 10;

    /// <summary>Largest hidden width accepted (the same bound the enclave's trainer applies).</summary>
    public const int MaxHidden = 4096;

    /// <summary>Length of the model vector for a hidden width: <c>795·H + 10</c>.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="hidden"/> is outside 1..<see cref="MaxHidden"/>.</exception>
    public static int ParameterCount(int hidden)
    {
        CheckHidden(hidden);
        return (InputSize * hidden) + hidden + (OutputSize * hidden) + OutputSize;
    }

    /// <summary>
    /// A fresh model initialised like torch's <c>Linear</c>: every weight and bias of a layer with fan-in f is drawn
    /// uniformly from <c>[-1/√f, 1/√f)</c>. The same hidden width and seed always give the same vector.
    /// </summary>
    public static float[] Initialize(int hidden, ulong seed)
    {
        var model = new float[ParameterCount(hidden)];
        var random = new SplitMix64(seed);
        Span<float> span = model;
        float bound1 = 1f / MathF.Sqrt(InputSize);
        float bound2 = 1f / MathF.Sqrt(hidden);
        int layer1 = (InputSize * hidden) + hidden;
        for (int i = 0; i < span.Length; i++)
        {
            float bound = i < layer1 ? bound1 : bound2;
            span[i] = ((2f * random.NextFloat()) - 1f) * bound;
        }

        return model;
    }

    /// <summary>
    /// Class the model predicts for one image (<see cref="InputSize"/> bytes, scaled by 1/255): the first index of
    /// the largest logit.
    /// </summary>
    public static int Predict(ReadOnlySpan<float> model, int hidden, ReadOnlySpan<byte> image)
    {
        CheckModel(model, hidden);
        if (image.Length != InputSize)
        {
            throw new ArgumentException($"An image has {InputSize} pixels; {image.Length} given.", nameof(image));
        }

        var layers = new Layers(model, hidden);
        Span<float> input = stackalloc float[InputSize];
        Span<float> activations = new float[hidden];
        return layers.Predict(image, input, activations);
    }

    /// <summary>
    /// Fraction of the first <paramref name="count"/> examples whose label the model predicts.
    /// </summary>
    /// <param name="model">Model vector for <paramref name="hidden"/>.</param>
    /// <param name="hidden">Hidden width.</param>
    /// <param name="pixels">Images back to back, <see cref="InputSize"/> bytes each.</param>
    /// <param name="labels">One label per image.</param>
    /// <param name="count">Number of examples to evaluate (at least 1).</param>
    public static double Accuracy(
        ReadOnlySpan<float> model,
        int hidden,
        ReadOnlySpan<byte> pixels,
        ReadOnlySpan<byte> labels,
        int count)
    {
        CheckModel(model, hidden);
        ArgumentOutOfRangeException.ThrowIfLessThan(count, 1);
        if (labels.Length < count)
        {
            throw new ArgumentException($"{count} examples need {count} labels; {labels.Length} given.", nameof(labels));
        }

        if (pixels.Length / InputSize < count)
        {
            throw new ArgumentException(
                $"{count} examples need {(long)count * InputSize} pixels; {pixels.Length} given.", nameof(pixels));
        }

        var layers = new Layers(model, hidden);
        Span<float> input = stackalloc float[InputSize];
        Span<float> activations = new float[hidden];
        int correct = 0;
        for (int i = 0; i < count; i++)
        {
            int predicted = layers.Predict(pixels.Slice(i * InputSize, InputSize), input, activations);
            if (predicted == labels[i])
            {
                correct++;
            }
        }

        return (double)correct / count;
    }

    private static void CheckHidden(int hidden)
    {
        if (hidden is < 1 or > MaxHidden)
        {
            throw new ArgumentOutOfRangeException(nameof(hidden), hidden, $"Hidden must be 1..{MaxHidden}.");
        }
    }

    private static void CheckModel(ReadOnlySpan<float> model, int hidden)
    {
        int expected = ParameterCount(hidden);
        if (model.Length != expected)
        {
            throw new ArgumentException(
                $"The model vector has {model.Length} values; hidden width {hidden} needs {expected}.", nameof(model));
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveOptimization)]
    private static float Dot(ReadOnlySpan<float> a, ReadOnlySpan<float> b)
    {
        int i = 0;
        float sum = 0;
        if (Vector.IsHardwareAccelerated && a.Length >= Vector<float>.Count)
        {
            ReadOnlySpan<Vector<float>> va = MemoryMarshal.Cast<float, Vector<float>>(a);
            ReadOnlySpan<Vector<float>> vb = MemoryMarshal.Cast<float, Vector<float>>(b);
            var acc = Vector<float>.Zero;
            for (int v = 0; v < va.Length; v++)
            {
                acc += va[v] * vb[v];
            }

            sum = Vector.Sum(acc);
            i = va.Length * Vector<float>.Count;
        }

        for (; i < a.Length; i++)
        {
            sum += a[i] * b[i];
        }

        return sum;
    }

    /// <summary>Views of the four parameter blocks inside a model vector.</summary>
    private readonly ref struct Layers
    {
        private readonly ReadOnlySpan<float> _w1;
        private readonly ReadOnlySpan<float> _b1;
        private readonly ReadOnlySpan<float> _w2;
        private readonly ReadOnlySpan<float> _b2;
        private readonly int _hidden;

        public Layers(ReadOnlySpan<float> model, int hidden)
        {
            _hidden = hidden;
            int offset = 0;
            _w1 = model.Slice(offset, InputSize * hidden);
            offset += InputSize * hidden;
            _b1 = model.Slice(offset, hidden);
            offset += hidden;
            _w2 = model.Slice(offset, OutputSize * hidden);
            offset += OutputSize * hidden;
            _b2 = model.Slice(offset, OutputSize);
        }

        [MethodImpl(MethodImplOptions.AggressiveOptimization)]
        public int Predict(ReadOnlySpan<byte> image, Span<float> input, Span<float> activations)
        {
            for (int p = 0; p < InputSize; p++)
            {
                input[p] = image[p] / 255f;
            }

            for (int j = 0; j < _hidden; j++)
            {
                float z = Dot(_w1.Slice(j * InputSize, InputSize), input) + _b1[j];
                activations[j] = z > 0 ? z : 0;
            }

            int best = 0;
            float bestLogit = float.NegativeInfinity;
            for (int k = 0; k < OutputSize; k++)
            {
                float logit = Dot(_w2.Slice(k * _hidden, _hidden), activations) + _b2[k];
                if (logit > bestLogit)
                {
                    best = k;
                    bestLogit = logit;
                }
            }

            return best;
        }
    }

    /// <summary>SplitMix64: small and fixed, so initial models never change with the runtime.</summary>
    private struct SplitMix64(ulong seed)
    {
        private ulong _state = seed;

        /// <summary>Uniform in [0, 1) with 24 random bits.</summary>
        public float NextFloat() => (Next() >> 40) * (1f / (1 << 24));

        private ulong Next()
        {
            _state += 0x9E3779B97F4A7C15UL;
            ulong z = _state;
            z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
            z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
            return z ^ (z >> 31);
        }
    }
}
