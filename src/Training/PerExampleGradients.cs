using TorchSharp;
using static TorchSharp.torch;

namespace Enclave.Training;

/// <summary>
/// Per-example gradients of the cross-entropy, computed directly from one backward pass: the layer inputs
/// <c>a_i</c> and the gradients <c>δ_i</c> at each layer's pre-activation output give every example's parameter gradient.
/// </summary>
/// <remarks>
/// Linear layer: <c>∂W = δ_i a_iᵀ</c>, <c>∂b = δ_i</c>, so its squared norm is <c>‖δ_i‖²(‖a_i‖² + 1)</c> and the clipped sum
/// is <c>(c ⊙ δ)ᵀ A</c> without forming any per-example matrix (Goodfellow, 2015). Convolution: with <c>U_i</c> the
/// im2col unfolding of <c>a_i</c> (<c>[In·k², L]</c>) and <c>Δ_i</c> the output gradient (<c>[Out, L]</c>),
/// <c>∂W = Δ_i U_iᵀ</c> and <c>∂b = Δ_i·1</c>; those are formed, as they are small (at most 64 × 800 per example here).
/// </remarks>
internal static class PerExampleGradients
{
    /// <summary>
    /// Clips each example's gradient (all parameters jointly) to L2 norm <paramref name="clipNorm"/> and sums them.
    /// </summary>
    /// <returns>Each example's gradient norm before clipping, and the clipped sum shaped like the parameters.</returns>
    public static (Tensor Norms, Tensor[] ClippedSum) ClipAndSum(Network network, Tensor x, Tensor y, double clipNorm)
    {
        (Tensor[] inputs, Tensor[] deltas) = Backpropagate(network, x, y);
        LayerShape[] layers = network.Layers;
        long count = x.shape[0];
        var weightGradients = new Tensor?[layers.Length];
        var biasGradients = new Tensor?[layers.Length];
        Tensor squaredNorms = zeros(count, ScalarType.Float32);
        for (int l = 0; l < layers.Length; l++)
        {
            if (layers[l].Kind == LayerKind.Linear)
            {
                Tensor deltaSquared = deltas[l].square().sum(1);
                squaredNorms.add_(deltaSquared.mul(inputs[l].square().sum(1).add_(1.0f)));
            }
            else
            {
                (Tensor weight, Tensor bias) = ConvolutionGradients(layers[l], inputs[l], deltas[l]);
                weightGradients[l] = weight;
                biasGradients[l] = bias;
                squaredNorms.add_(weight.square().sum([1, 2])).add_(bias.square().sum(1));
            }
        }

        Tensor norms = squaredNorms.sqrt();
        Tensor factors = full_like(norms, clipNorm).div_(norms).clamp_max_(1.0f);
        var sums = new Tensor[layers.Length * 2];
        Tensor row = factors.unsqueeze(0);
        for (int l = 0; l < layers.Length; l++)
        {
            if (layers[l].Kind == LayerKind.Linear)
            {
                Tensor scaled = deltas[l].mul(factors.unsqueeze(1));
                sums[2 * l] = scaled.t().mm(inputs[l]);
                sums[(2 * l) + 1] = scaled.sum(dim: 0L);
            }
            else
            {
                sums[2 * l] = row.mm(weightGradients[l]!.flatten(1)).view(layers[l].WeightShape);
                sums[(2 * l) + 1] = row.mm(biasGradients[l]!).view(layers[l].Outputs);
            }
        }

        return (norms, sums);
    }

    /// <summary>Every example's gradient, formed in full: <c>[B, P]</c> in the model vector's layout (for tests).</summary>
    public static Tensor Materialise(Network network, Tensor x, Tensor y)
    {
        (Tensor[] inputs, Tensor[] deltas) = Backpropagate(network, x, y);
        LayerShape[] layers = network.Layers;
        long count = x.shape[0];
        var parts = new List<Tensor>();
        for (int l = 0; l < layers.Length; l++)
        {
            if (layers[l].Kind == LayerKind.Linear)
            {
                parts.Add(deltas[l].unsqueeze(2).mul(inputs[l].unsqueeze(1)).view(count, -1));
                parts.Add(deltas[l]);
            }
            else
            {
                (Tensor weight, Tensor bias) = ConvolutionGradients(layers[l], inputs[l], deltas[l]);
                parts.Add(weight.view(count, -1));
                parts.Add(bias);
            }
        }

        return cat(parts, 1);
    }

    /// <summary>Gradient of the summed cross-entropy by ordinary backpropagation to the parameters.</summary>
    public static Tensor[] SummedGradient(Network network, Tensor x, Tensor y)
    {
        Tensor loss = nn.functional.cross_entropy(network.Forward(x), y, reduction: nn.Reduction.Sum);
        return [.. torch.autograd.grad([loss], network.Parameters)];
    }

    /// <summary>Every example's gradient of <paramref name="model"/> on <paramref name="data"/>, formed directly (tests).</summary>
    internal static float[][] Compute(ModelSpec spec, float[] model, ExampleSet data) =>
        Run(spec, model, data, (network, x, y) =>
        {
            Tensor all = Materialise(network, x, y);
            return Enumerable.Range(0, data.Count).Select(i => ToArray(all[i])).ToArray();
        });

    /// <summary>The training path's per-example norms and clipped sum, as vectors (tests).</summary>
    internal static (float[] Norms, float[] ClippedSum) ClipAndSum(ModelSpec spec, float[] model, ExampleSet data, double clipNorm) =>
        Run(spec, model, data, (network, x, y) =>
        {
            (Tensor norms, Tensor[] sums) = ClipAndSum(network, x, y, clipNorm);
            var sum = new float[model.Length];
            Network.Flatten(sums, sum);
            return (ToArray(norms), sum);
        });

    /// <summary>Gradient of the summed loss by ordinary backpropagation, as a vector (tests).</summary>
    internal static float[] SummedGradient(ModelSpec spec, float[] model, ExampleSet data) =>
        Run(spec, model, data, (network, x, y) =>
        {
            var gradient = new float[model.Length];
            Network.Flatten(SummedGradient(network, x, y), gradient);
            return gradient;
        });

    private static T Run<T>(ModelSpec spec, float[] model, ExampleSet data, Func<Network, Tensor, Tensor, T> body)
    {
        LocalTrainer.CheckModel(spec, model, nameof(model));
        LocalTrainer.CheckData(spec, data, nameof(data));
        torch.set_num_threads(1);
        using (NewDisposeScope())
        {
            var network = new Network(spec, model, requiresGrad: true);
            Tensor x = network.Input(LocalTrainer.ToPixelTensor(data));
            return body(network, x, LocalTrainer.ToLabelTensor(data));
        }
    }

    private static float[] ToArray(Tensor values)
    {
        using Tensor contiguous = values.detach().contiguous();
        return contiguous.data<float>().ToArray();
    }

    /// <summary>Layer inputs (detached) and the gradients of the summed loss at each layer's pre-activation output.</summary>
    private static (Tensor[] Inputs, Tensor[] Deltas) Backpropagate(Network network, Tensor x, Tensor y)
    {
        int layers = network.Layers.Length;
        var inputs = new Tensor[layers];
        var outputs = new Tensor[layers];
        Tensor logits = network.Forward(x, inputs, outputs);
        Tensor loss = nn.functional.cross_entropy(logits, y, reduction: nn.Reduction.Sum);
        Tensor[] deltas = [.. torch.autograd.grad([loss], outputs)];
        for (int l = 0; l < layers; l++)
        {
            inputs[l] = inputs[l].detach();
        }

        return (inputs, deltas);
    }

    /// <summary>Per-example weight gradients <c>[B, Out, In·k²]</c> and bias gradients <c>[B, Out]</c> of a convolution.</summary>
    private static (Tensor Weight, Tensor Bias) ConvolutionGradients(LayerShape layer, Tensor input, Tensor delta)
    {
        Tensor unfolded = nn.functional.unfold(input, layer.Kernel);
        Tensor outputGradient = delta.flatten(2);
        return (outputGradient.bmm(unfolded.transpose(1, 2)), outputGradient.sum(2));
    }
}
