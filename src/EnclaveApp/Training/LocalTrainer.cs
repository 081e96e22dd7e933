using System.Runtime.InteropServices;
using Enclave.EnclaveApp.Data;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace Enclave.EnclaveApp.Training;

/// <summary>
/// Trains the regional copy of the global model on the enclave's local examples with TorchSharp.
/// </summary>
/// <remarks>
/// The model is the MLP <c>784 → H → 10</c> with ReLU whose parameters travel as the flat float32 vector of
/// docs/formats.md section 7: <c>W1[H,784]</c>, <c>b1[H]</c>, <c>W2[10,H]</c>, <c>b2[10]</c>, row-major.
/// Training is plain mini-batch SGD with momentum on the cross-entropy loss, pixels scaled to [0, 1].
/// Torch runs on one intra-op thread (several enclaves share the host's cores) and the result depends only on
/// the inputs: examples are shuffled by a generator seeded with <see cref="TrainingOptions.Seed"/>.
/// </remarks>
public static class LocalTrainer
{
    /// <summary>Pixels per image the model takes (28 × 28).</summary>
    public const int InputSize = 784;

    /// <summary>Number of output classes.</summary>
    public const int OutputSize = 10;

    private const int EvaluationBatchSize = 1024;

    /// <summary>Length of the model vector for a hidden width: <c>795·H + 10</c>.</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="hidden"/> is outside 1..<see cref="TrainingOptions.MaxHidden"/>.</exception>
    public static int ParameterCount(int hidden)
    {
        if (hidden is < 1 or > TrainingOptions.MaxHidden)
        {
            throw new ArgumentOutOfRangeException(nameof(hidden), hidden, $"Hidden must be 1..{TrainingOptions.MaxHidden}.");
        }

        return (InputSize * hidden) + hidden + (OutputSize * hidden) + OutputSize;
    }

    /// <summary>
    /// Trains from <paramref name="globalModel"/> on <paramref name="data"/> and returns the local change.
    /// </summary>
    /// <param name="globalModel">The global model vector (section 7 layout, length <see cref="ParameterCount"/>); not modified.</param>
    /// <param name="data">The local examples; images must have 784 pixels and there must be at least one.</param>
    /// <param name="options">Hyper-parameters.</param>
    /// <param name="progress">Receives the fraction of SGD steps done, from 0 to 1.</param>
    /// <exception cref="ArgumentException">The model, data or options do not fit together.</exception>
    public static TrainingResult Train(
        float[] globalModel,
        ExampleSet data,
        TrainingOptions options,
        IProgress<double>? progress = null)
    {
        ArgumentNullException.ThrowIfNull(globalModel);
        ArgumentNullException.ThrowIfNull(data);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();

        int hidden = options.Hidden;
        int parameterCount = ParameterCount(hidden);
        if (globalModel.Length != parameterCount)
        {
            throw new ArgumentException(
                $"The model vector has {globalModel.Length} values; hidden width {hidden} needs {parameterCount}.",
                nameof(globalModel));
        }

        for (int i = 0; i < globalModel.Length; i++)
        {
            if (!float.IsFinite(globalModel[i]))
            {
                throw new ArgumentException($"The model vector holds a non-finite value at index {i}.", nameof(globalModel));
            }
        }

        if (data.PixelsPerExample != InputSize)
        {
            throw new ArgumentException(
                $"The model takes {InputSize}-pixel images; the examples are {data.Rows}x{data.Cols}.", nameof(data));
        }

        if (data.Count == 0)
        {
            throw new ArgumentException("There are no examples to train on.", nameof(data));
        }

        torch.set_num_threads(1);
        torch.random.manual_seed(unchecked((long)options.Seed));

        var local = new float[parameterCount];
        double finalLoss;
        double accuracy;
        using (NewDisposeScope())
        {
            var parameters = new MlpParameters(globalModel, hidden);
            Tensor pixels = ToPixelTensor(data);
            Tensor labels = ToLabelTensor(data);

            if (options.Epochs > 0)
            {
                RunSgd(parameters, pixels, labels, data.Count, options, progress);
            }

            (finalLoss, accuracy) = Evaluate(parameters, pixels, labels, data.Count);
            parameters.WriteTo(local);
        }

        progress?.Report(1.0);

        var delta = new float[parameterCount];
        for (int i = 0; i < delta.Length; i++)
        {
            delta[i] = local[i] - globalModel[i];
        }

        return new TrainingResult(delta, data.Count, finalLoss, accuracy);
    }

    private static void RunSgd(
        MlpParameters parameters,
        Tensor pixels,
        Tensor labels,
        int count,
        TrainingOptions options,
        IProgress<double>? progress)
    {
        using SGD optimizer = optim.SGD(parameters.All, options.LearningRate, options.Momentum);
        var order = new long[count];
        for (int i = 0; i < count; i++)
        {
            order[i] = i;
        }

        Tensor permutation = empty(count, ScalarType.Int64);
        var shuffle = new ShuffleGenerator(options.Seed);
        int batchesPerEpoch = (count + options.BatchSize - 1) / options.BatchSize;
        long totalSteps = (long)batchesPerEpoch * options.Epochs;
        long step = 0;
        double reported = 0;
        progress?.Report(0.0);

        for (int epoch = 0; epoch < options.Epochs; epoch++)
        {
            shuffle.Shuffle(order);
            order.AsSpan().CopyTo(MemoryMarshal.Cast<byte, long>(permutation.bytes));

            for (int start = 0; start < count; start += options.BatchSize)
            {
                int length = Math.Min(options.BatchSize, count - start);
                using (NewDisposeScope())
                {
                    Tensor indices = permutation.narrow(0, start, length);
                    Tensor x = pixels.index_select(0, indices).to_type(ScalarType.Float32).div_(255.0f);
                    Tensor y = labels.index_select(0, indices);
                    Tensor loss = nn.functional.cross_entropy(parameters.Forward(x), y);
                    optimizer.zero_grad();
                    loss.backward();
                    optimizer.step();
                }

                step++;
                double fraction = (double)step / totalSteps;
                if (progress is not null && fraction - reported >= 0.01)
                {
                    reported = fraction;
                    progress.Report(fraction);
                }
            }
        }
    }

    private static (double Loss, double Accuracy) Evaluate(MlpParameters parameters, Tensor pixels, Tensor labels, int count)
    {
        double lossSum = 0;
        long correct = 0;
        using (no_grad())
        {
            for (int start = 0; start < count; start += EvaluationBatchSize)
            {
                int length = Math.Min(EvaluationBatchSize, count - start);
                using (NewDisposeScope())
                {
                    Tensor x = pixels.narrow(0, start, length).to_type(ScalarType.Float32).div_(255.0f);
                    Tensor y = labels.narrow(0, start, length);
                    Tensor logits = parameters.Forward(x);
                    lossSum += nn.functional.cross_entropy(logits, y, reduction: nn.Reduction.Sum).item<float>();
                    correct += logits.argmax(1).eq(y).sum().item<long>();
                }
            }
        }

        return (lossSum / count, (double)correct / count);
    }

    private static Tensor ToPixelTensor(ExampleSet data)
    {
        Tensor pixels = empty(data.Count, InputSize, ScalarType.Byte);
        data.Pixels.Span.CopyTo(pixels.bytes);
        return pixels;
    }

    private static Tensor ToLabelTensor(ExampleSet data)
    {
        Tensor labels = empty(data.Count, ScalarType.Int64);
        Span<long> target = MemoryMarshal.Cast<byte, long>(labels.bytes);
        ReadOnlySpan<byte> source = data.Labels.Span;
        for (int i = 0; i < source.Length; i++)
        {
            target[i] = source[i];
        }

        return labels;
    }

    /// <summary>The four parameter tensors of the MLP, loaded from and stored to the section 7 layout.</summary>
    private sealed class MlpParameters
    {
        private readonly int _hidden;
        private readonly Parameter _w1;
        private readonly Parameter _b1;
        private readonly Parameter _w2;
        private readonly Parameter _b2;

        public MlpParameters(ReadOnlySpan<float> vector, int hidden)
        {
            _hidden = hidden;
            int offset = 0;
            _w1 = Load(vector, ref offset, hidden, InputSize);
            _b1 = Load(vector, ref offset, hidden);
            _w2 = Load(vector, ref offset, OutputSize, hidden);
            _b2 = Load(vector, ref offset, OutputSize);
        }

        public IEnumerable<Parameter> All => [_w1, _b1, _w2, _b2];

        public Tensor Forward(Tensor x)
        {
            using Tensor hiddenLayer = nn.functional.linear(x, _w1, _b1);
            return nn.functional.linear(hiddenLayer.relu_(), _w2, _b2);
        }

        public void WriteTo(Span<float> vector)
        {
            int offset = 0;
            Store(_w1, vector, ref offset, (long)_hidden * InputSize);
            Store(_b1, vector, ref offset, _hidden);
            Store(_w2, vector, ref offset, (long)OutputSize * _hidden);
            Store(_b2, vector, ref offset, OutputSize);
        }

        private static Parameter Load(ReadOnlySpan<float> vector, ref int offset, params long[] shape)
        {
            Tensor values = empty(shape, ScalarType.Float32);
            int length = (int)values.numel();
            vector.Slice(offset, length).CopyTo(MemoryMarshal.Cast<byte, float>(values.bytes));
            offset += length;
            return nn.Parameter(values, requires_grad: true);
        }

        private static void Store(Parameter parameter, Span<float> vector, ref int offset, long length)
        {
            using Tensor values = parameter.detach().contiguous();
            MemoryMarshal.Cast<byte, float>(values.bytes).CopyTo(vector.Slice(offset, (int)length));
            offset += (int)length;
        }
    }

    /// <summary>SplitMix64: a small, fixed generator so that shuffles never change with the runtime.</summary>
    private struct ShuffleGenerator(ulong seed)
    {
        private ulong _state = seed;

        public void Shuffle(Span<long> values)
        {
            for (int i = values.Length - 1; i > 0; i--)
            {
                int j = (int)Math.BigMul(Next(), (ulong)(i + 1), out _);
                (values[i], values[j]) = (values[j], values[i]);
            }
        }

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
