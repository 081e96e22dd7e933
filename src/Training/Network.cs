using System.Runtime.InteropServices;
using TorchSharp;
using static TorchSharp.torch;

namespace Enclave.Training;

/// <summary>
/// A <see cref="ModelSpec"/> as torch tensors: one weight and one bias tensor per layer, loaded from and stored to the
/// flat vector of docs/formats.md section 7, and a functional forward pass over them.
/// </summary>
/// <remarks>Tensors belong to the caller's dispose scope.</remarks>
internal sealed class Network
{
    private readonly LayerShape[] _layers;

    public Network(ModelSpec spec, ReadOnlySpan<float> vector, bool requiresGrad)
    {
        Spec = spec;
        _layers = spec.Layers();
        Parameters = new Tensor[_layers.Length * 2];
        int offset = 0;
        for (int l = 0; l < _layers.Length; l++)
        {
            Parameters[2 * l] = Load(vector, ref offset, _layers[l].WeightShape, requiresGrad);
            Parameters[(2 * l) + 1] = Load(vector, ref offset, [_layers[l].Outputs], requiresGrad);
        }
    }

    public ModelSpec Spec { get; }

    /// <summary>Weight and bias of every layer, in the order of the model vector.</summary>
    public Tensor[] Parameters { get; }

    internal LayerShape[] Layers => _layers;

    /// <summary>Images as the model takes them: pixel bytes <c>[B, R·C]</c> to float / 255, <c>[B, 1, R, C]</c> for the CNN.</summary>
    public Tensor Input(Tensor pixelBytes)
    {
        Tensor x = pixelBytes.to_type(ScalarType.Float32).div_(255.0f);
        return Spec.Kind == ModelKind.Cnn ? x.view(-1, 1, Spec.Rows, Spec.Cols) : x;
    }

    public Tensor Forward(Tensor x) => Run(x, null, null);

    /// <summary>The forward pass that also hands back each layer's input and pre-activation output.</summary>
    public Tensor Forward(Tensor x, Tensor[] layerInputs, Tensor[] layerOutputs) => Run(x, layerInputs, layerOutputs);

    /// <summary>Overwrites the parameters with a model vector.</summary>
    public void Load(ReadOnlySpan<float> vector)
    {
        int offset = 0;
        using (no_grad())
        {
            foreach (Tensor parameter in Parameters)
            {
                int length = (int)parameter.numel();
                vector.Slice(offset, length).CopyTo(MemoryMarshal.Cast<byte, float>(parameter.bytes));
                offset += length;
            }
        }
    }

    public void WriteTo(Span<float> vector) => Flatten(Parameters, vector);

    /// <summary>Copies tensors shaped like the parameters into a model vector, in order.</summary>
    public static void Flatten(IReadOnlyList<Tensor> tensors, Span<float> vector)
    {
        int offset = 0;
        foreach (Tensor tensor in tensors)
        {
            using Tensor values = tensor.detach().contiguous();
            int length = (int)values.numel();
            MemoryMarshal.Cast<byte, float>(values.bytes).CopyTo(vector.Slice(offset, length));
            offset += length;
        }
    }

    private Tensor Run(Tensor x, Tensor[]? layerInputs, Tensor[]? layerOutputs)
    {
        Tensor a = x;
        for (int l = 0; l < _layers.Length; l++)
        {
            LayerShape layer = _layers[l];
            if (layer.FlattenInput)
            {
                a = a.flatten(1);
            }

            if (layerInputs is not null)
            {
                layerInputs[l] = a;
            }

            Tensor weight = Parameters[2 * l];
            Tensor bias = Parameters[(2 * l) + 1];
            Tensor z = layer.Kind == LayerKind.Linear
                ? nn.functional.linear(a, weight, bias)
                : nn.functional.conv2d(a, weight, bias);
            if (layerOutputs is not null)
            {
                layerOutputs[l] = z;
            }

            a = layer.Activation switch
            {
                LayerActivation.None => z,
                LayerActivation.Relu => z.relu(),
                _ => nn.functional.max_pool2d(z.relu(), [2, 2]),
            };
        }

        return a;
    }

    private static Tensor Load(ReadOnlySpan<float> vector, ref int offset, long[] shape, bool requiresGrad)
    {
        Tensor values = empty(shape, ScalarType.Float32);
        int length = (int)values.numel();
        vector.Slice(offset, length).CopyTo(MemoryMarshal.Cast<byte, float>(values.bytes));
        offset += length;
        return requiresGrad ? nn.Parameter(values, requires_grad: true) : values;
    }
}
