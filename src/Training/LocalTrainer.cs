using System.Runtime.InteropServices;
using TorchSharp;
using static TorchSharp.torch;

namespace Enclave.Training;

/// <summary>
/// Trains the regional copy of the global model on the enclave's local examples with TorchSharp, as a
/// <see cref="LocalTrainingPlan"/> says.
/// </summary>
/// <remarks>
/// The model is a <see cref="ModelSpec"/> whose parameters travel as the flat float32 vector of docs/formats.md
/// section 7. Training is mini-batch SGD with momentum on the cross-entropy loss, pixels scaled to [0, 1], optionally
/// with FedProx's proximal term, and either over shuffled epochs or as DP-SGD (<see cref="DpSgdSettings"/>). The
/// local change is then scaled to the plan's update clip norm. Torch runs on one intra-op thread (several enclaves
/// share the host's cores). Without DP the result depends only on the inputs: examples are shuffled by a generator
/// seeded with <see cref="LocalTrainingPlan.Seed"/>; with DP the sample and the noise are secret and fresh each run.
/// </remarks>
public static class LocalTrainer
{
    /// <summary>Pixels per image the MLP of <see cref="Train(float[], ExampleSet, TrainingOptions, IProgress{double})"/> takes (28 × 28).</summary>
    public const int InputSize = 784;

    /// <summary>Number of output classes.</summary>
    public const int OutputSize = 10;

    /// <summary>Examples per per-example-gradient pass in DP-SGD (bounds memory; the step's sample may be larger).</summary>
    private const int DpMicrobatch = 128;

    /// <summary>Length of the MLP's model vector for a hidden width: <c>795·H + 10</c>.</summary>
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
    /// Trains the 28×28 MLP from <paramref name="globalModel"/> with plain SGD and returns the local change: the plan
    /// <c>(Mlp(Hidden), Epochs, BatchSize, LearningRate, Momentum, Seed)</c> without FedProx, clipping or DP.
    /// </summary>
    /// <param name="globalModel">The global model vector (section 7 layout, length <see cref="ParameterCount"/>); not modified.</param>
    /// <param name="data">The local examples; images must have 784 pixels and there must be at least one.</param>
    /// <param name="options">Hyper-parameters.</param>
    /// <param name="progress">Receives the fraction of SGD steps done, from 0 to 1.</param>
    /// <exception cref="ArgumentOutOfRangeException">An option is out of range.</exception>
    /// <exception cref="ArgumentException">The model, data or options do not fit together.</exception>
    /// <exception cref="ArithmeticException">Training diverged: the local model holds a non-finite value.</exception>
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
        var plan = new LocalTrainingPlan(
            ModelSpec.Mlp(options.Hidden), options.Epochs, options.BatchSize, options.LearningRate, options.Momentum, Seed: options.Seed);
        return TrainCore(globalModel, data, plan, noiseSeed: null, progress);
    }

    /// <summary>
    /// Trains from <paramref name="globalModel"/> on <paramref name="data"/> as <paramref name="plan"/> says and returns
    /// the local change.
    /// </summary>
    /// <param name="globalModel">The global model vector (length <see cref="ModelSpec.ParameterCount"/>); not modified.</param>
    /// <param name="data">The local examples, shaped as the plan's model takes them; there must be at least one.</param>
    /// <param name="plan">What to run.</param>
    /// <param name="progress">Receives the fraction of optimiser steps done, from 0 to 1.</param>
    /// <exception cref="ArgumentOutOfRangeException">A value of the plan is out of range.</exception>
    /// <exception cref="ArgumentException">The model, data or plan do not fit together.</exception>
    /// <exception cref="ArithmeticException">Training diverged: the local model holds a non-finite value.</exception>
    public static TrainingResult Train(
        float[] globalModel,
        ExampleSet data,
        LocalTrainingPlan plan,
        IProgress<double>? progress = null) => TrainCore(globalModel, data, plan, noiseSeed: null, progress);

    /// <summary>
    /// As <see cref="Train(float[], ExampleSet, LocalTrainingPlan, IProgress{double})"/>, but DP-SGD's sample and noise
    /// come from <paramref name="noiseSeed"/> so that a run repeats. Tests only: whoever knows the seed knows the noise.
    /// </summary>
    internal static TrainingResult TrainWithFixedNoise(
        float[] globalModel,
        ExampleSet data,
        LocalTrainingPlan plan,
        ulong noiseSeed,
        IProgress<double>? progress = null) => TrainCore(globalModel, data, plan, noiseSeed, progress);

    /// <summary>Throws unless <paramref name="model"/> is a finite vector of <paramref name="spec"/>'s length.</summary>
    internal static void CheckModel(ModelSpec spec, float[] model, string parameterName)
    {
        int parameterCount = spec.ParameterCount;
        if (model.Length != parameterCount)
        {
            string shape = spec.Kind == ModelKind.Mlp ? $"hidden width {spec.Hidden}" : $"the {spec.Kind} of hidden width {spec.Hidden}";
            throw new ArgumentException($"The model vector has {model.Length} values; {shape} needs {parameterCount}.", parameterName);
        }

        for (int i = 0; i < model.Length; i++)
        {
            if (!float.IsFinite(model[i]))
            {
                throw new ArgumentException($"The model vector holds a non-finite value at index {i}.", parameterName);
            }
        }
    }

    /// <summary>Throws unless <paramref name="data"/> is a non-empty set of images and labels <paramref name="spec"/> takes.</summary>
    internal static void CheckData(ModelSpec spec, ExampleSet data, string parameterName)
    {
        bool fits = spec.Kind == ModelKind.Mlp
            ? data.PixelsPerExample == spec.InputSize
            : data.Rows == spec.Rows && data.Cols == spec.Cols;
        if (!fits)
        {
            throw new ArgumentException(
                $"The model takes {spec.Rows}x{spec.Cols} ({spec.InputSize}-pixel) images; the examples are {data.Rows}x{data.Cols}.",
                parameterName);
        }

        if (data.Count == 0)
        {
            throw new ArgumentException("There are no examples.", parameterName);
        }

        if (spec.Classes < ExampleSet.ClassCount && data.Labels.Span.IndexOfAnyInRange((byte)spec.Classes, byte.MaxValue) is int at and >= 0)
        {
            throw new ArgumentException($"Example {at} has label {data.Labels.Span[at]}; the model has {spec.Classes} classes.", parameterName);
        }
    }

    internal static Tensor ToPixelTensor(ExampleSet data)
    {
        Tensor pixels = empty(data.Count, data.PixelsPerExample, ScalarType.Byte);
        data.Pixels.Span.CopyTo(pixels.bytes);
        return pixels;
    }

    internal static Tensor ToLabelTensor(ExampleSet data)
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

    /// <summary>Mean cross-entropy and accuracy of the network over all examples.</summary>
    internal static (double Loss, double Accuracy) Evaluate(Network network, Tensor pixels, Tensor labels, int count)
    {
        int batchSize = network.Spec.Kind == ModelKind.Mlp ? 1024 : 256;
        double lossSum = 0;
        long correct = 0;
        using (no_grad())
        {
            for (int start = 0; start < count; start += batchSize)
            {
                int length = Math.Min(batchSize, count - start);
                using (NewDisposeScope())
                {
                    Tensor x = network.Input(pixels.narrow(0, start, length));
                    Tensor y = labels.narrow(0, start, length);
                    Tensor logits = network.Forward(x);
                    lossSum += nn.functional.cross_entropy(logits, y, reduction: nn.Reduction.Sum).item<float>();
                    correct += logits.argmax(1).eq(y).sum().item<long>();
                }
            }
        }

        return (lossSum / count, (double)correct / count);
    }

    private static TrainingResult TrainCore(
        float[] globalModel,
        ExampleSet data,
        LocalTrainingPlan plan,
        ulong? noiseSeed,
        IProgress<double>? progress)
    {
        ArgumentNullException.ThrowIfNull(globalModel);
        ArgumentNullException.ThrowIfNull(data);
        ArgumentNullException.ThrowIfNull(plan);
        plan.Validate();
        CheckModel(plan.Model, globalModel, nameof(globalModel));
        CheckData(plan.Model, data, nameof(data));

        torch.set_num_threads(1);
        torch.random.manual_seed(unchecked((long)plan.Seed));

        int parameterCount = globalModel.Length;
        var local = new float[parameterCount];
        float[] delta;
        double updateNorm;
        long steps = 0;
        double finalLoss;
        double accuracy;
        using (NewDisposeScope())
        {
            var network = new Network(plan.Model, globalModel, requiresGrad: true);
            Tensor pixels = ToPixelTensor(data);
            Tensor labels = ToLabelTensor(data);
            Tensor[] global = plan.ProximalMu > 0 ? new Network(plan.Model, globalModel, requiresGrad: false).Parameters : [];
            var step = new StepRunner(network, global, plan);

            if (plan.Dp is { } dp)
            {
                using DpRandom random = noiseSeed is { } seed ? DpRandom.CreateForTests(seed) : DpRandom.CreateSecret();
                steps = RunDpSgd(step, pixels, labels, data.Count, dp, random, progress);
            }
            else if (plan.Epochs > 0)
            {
                steps = RunSgd(step, pixels, labels, data.Count, plan, progress);
            }

            network.WriteTo(local);
            (delta, updateNorm, bool clipped) = ClippedDelta(local, globalModel, plan.UpdateClipNorm);
            if (clipped)
            {
                var returned = new float[parameterCount];
                for (int i = 0; i < returned.Length; i++)
                {
                    returned[i] = globalModel[i] + delta[i];
                }

                network.Load(returned);
            }

            (finalLoss, accuracy) = Evaluate(network, pixels, labels, data.Count);
        }

        progress?.Report(1.0);
        return new TrainingResult(delta, data.Count, finalLoss, accuracy, steps, updateNorm);
    }

    private static long RunSgd(
        StepRunner step,
        Tensor pixels,
        Tensor labels,
        int count,
        LocalTrainingPlan plan,
        IProgress<double>? progress)
    {
        var order = new long[count];
        for (int i = 0; i < count; i++)
        {
            order[i] = i;
        }

        Tensor permutation = empty(count, ScalarType.Int64);
        var shuffle = new SplitMix64(plan.Seed);
        int batchesPerEpoch = (count + plan.BatchSize - 1) / plan.BatchSize;
        var reporter = new ProgressReporter(progress, (long)batchesPerEpoch * plan.Epochs);

        for (int epoch = 0; epoch < plan.Epochs; epoch++)
        {
            shuffle.Shuffle(order);
            order.AsSpan().CopyTo(MemoryMarshal.Cast<byte, long>(permutation.bytes));

            for (int start = 0; start < count; start += plan.BatchSize)
            {
                int length = Math.Min(plan.BatchSize, count - start);
                using (NewDisposeScope())
                {
                    Tensor indices = permutation.narrow(0, start, length);
                    Network network = step.Network;
                    Tensor x = network.Input(pixels.index_select(0, indices));
                    Tensor y = labels.index_select(0, indices);
                    Tensor loss = nn.functional.cross_entropy(network.Forward(x), y);
                    step.Apply([.. torch.autograd.grad([loss], network.Parameters)]);
                }

                reporter.Step();
            }
        }

        return reporter.Steps;
    }

    private static long RunDpSgd(
        StepRunner step,
        Tensor pixels,
        Tensor labels,
        int count,
        DpSgdSettings dp,
        DpRandom random,
        IProgress<double>? progress)
    {
        Network network = step.Network;
        double expectedBatch = dp.SamplingRate * count;
        double noiseStd = dp.NoiseMultiplier * dp.ExampleClipNorm;
        var sample = new List<long>();
        var reporter = new ProgressReporter(progress, dp.StepsPerRound);

        for (int t = 0; t < dp.StepsPerRound; t++)
        {
            random.PoissonSample(count, dp.SamplingRate, sample);
            using (NewDisposeScope())
            {
                Tensor[] gradient = [.. network.Parameters.Select(p => zeros_like(p, requires_grad: false))];
                for (int start = 0; start < sample.Count; start += DpMicrobatch)
                {
                    using (NewDisposeScope())
                    {
                        Tensor indices = tensor(sample.GetRange(start, Math.Min(DpMicrobatch, sample.Count - start)).ToArray());
                        Tensor x = network.Input(pixels.index_select(0, indices));
                        Tensor y = labels.index_select(0, indices);
                        (_, Tensor[] clippedSum) = PerExampleGradients.ClipAndSum(network, x, y, dp.ExampleClipNorm);
                        for (int i = 0; i < gradient.Length; i++)
                        {
                            gradient[i].add_(clippedSum[i]);
                        }
                    }
                }

                if (noiseStd > 0)
                {
                    foreach (Tensor g in gradient)
                    {
                        Tensor noise = empty_like(g);
                        random.FillGaussian(MemoryMarshal.Cast<byte, float>(noise.bytes), noiseStd);
                        g.add_(noise);
                    }
                }

                step.Apply(gradient, expectedBatch);
            }

            reporter.Step();
        }

        return reporter.Steps;
    }

    /// <summary>
    /// Local minus global, and its norm; scaled so that its norm is at most <paramref name="clipNorm"/> when that is
    /// positive (re-measured after rounding to float, so the bound holds exactly).
    /// </summary>
    private static (float[] Delta, double Norm, bool Clipped) ClippedDelta(float[] local, float[] global, double clipNorm)
    {
        var raw = new float[local.Length];
        for (int i = 0; i < raw.Length; i++)
        {
            if (!float.IsFinite(local[i]))
            {
                throw new ArithmeticException($"Local training diverged: the local model holds a non-finite value at index {i}.");
            }

            raw[i] = local[i] - global[i];
        }

        double norm = Norm(raw);
        if (!double.IsFinite(norm))
        {
            throw new ArithmeticException("Local training diverged: the local change has no finite norm.");
        }

        if (clipNorm <= 0 || norm <= clipNorm)
        {
            return (raw, norm, false);
        }

        var clipped = new float[raw.Length];
        double scale = clipNorm / norm;
        while (true)
        {
            for (int i = 0; i < raw.Length; i++)
            {
                clipped[i] = (float)(raw[i] * scale);
            }

            if (Norm(clipped) <= clipNorm)
            {
                return (clipped, norm, true);
            }

            scale *= 1 - 1e-7;
        }
    }

    private static double Norm(ReadOnlySpan<float> values)
    {
        double sum = 0;
        foreach (float v in values)
        {
            sum += (double)v * v;
        }

        return Math.Sqrt(sum);
    }

    /// <summary>One optimiser step: FedProx's gradient, then torch's SGD with momentum, on every parameter.</summary>
    private sealed class StepRunner(Network network, Tensor[] global, LocalTrainingPlan plan)
    {
        private readonly Tensor[] _buffers = plan.Momentum != 0
            ? [.. network.Parameters.Select(p => zeros_like(p, requires_grad: false))]
            : [];

        private bool _first = true;

        public Network Network => network;

        /// <summary>Applies a step for the data gradient <paramref name="gradients"/> divided by <paramref name="divisor"/>.</summary>
        public void Apply(Tensor[] gradients, double divisor = 1)
        {
            using (no_grad())
            {
                Tensor[] parameters = network.Parameters;
                for (int i = 0; i < parameters.Length; i++)
                {
                    Tensor g = gradients[i];
                    if (divisor != 1)
                    {
                        g.div_(divisor);
                    }

                    if (plan.ProximalMu > 0)
                    {
                        g = g.add(parameters[i].sub(global[i]), alpha: plan.ProximalMu);
                    }

                    // torch.optim.SGD without dampening, weight decay or Nesterov, step for step.
                    if (plan.Momentum != 0)
                    {
                        if (_first)
                        {
                            _buffers[i].copy_(g);
                        }
                        else
                        {
                            _buffers[i].mul_(plan.Momentum).add_(g, alpha: 1.0);
                        }

                        g = _buffers[i];
                    }

                    parameters[i].add_(g, alpha: -plan.LearningRate);
                }
            }

            _first = false;
        }
    }

    /// <summary>Reports 0 first, then the fraction of steps done whenever it has grown by at least 1%.</summary>
    private sealed class ProgressReporter
    {
        private readonly IProgress<double>? _progress;
        private readonly long _total;
        private double _reported;

        public ProgressReporter(IProgress<double>? progress, long total)
        {
            _progress = progress;
            _total = total;
            progress?.Report(0.0);
        }

        public long Steps { get; private set; }

        public void Step()
        {
            Steps++;
            double fraction = (double)Steps / _total;
            if (_progress is not null && fraction - _reported >= 0.01)
            {
                _reported = fraction;
                _progress.Report(fraction);
            }
        }
    }
}
