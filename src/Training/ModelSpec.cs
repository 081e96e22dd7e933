using Enclave.Privacy;

namespace Enclave.Training;

/// <summary>The architectures the local trainer runs.</summary>
public enum ModelKind
{
    /// <summary><c>R·C → Hidden → Classes</c> with ReLU (docs/formats.md section 7a).</summary>
    Mlp,

    /// <summary>Two 5×5 convolutions with ReLU and 2×2 max-pooling, then <c>→ Hidden → Classes</c> (section 7b).</summary>
    Cnn,
}

/// <summary>
/// The architecture of the global model, and so the length and layout of its flat float32 vector
/// (docs/formats.md section 7).
/// </summary>
/// <remarks>
/// Every layer stores its weight and then its bias, row-major in torch's shapes, layers in forward order:
/// <list type="bullet">
/// <item><see cref="ModelKind.Mlp"/>: <c>W1[H, R·C]</c>, <c>b1[H]</c>, <c>W2[K, H]</c>, <c>b2[K]</c>.</item>
/// <item><see cref="ModelKind.Cnn"/>: <c>conv1 W[32,1,5,5]</c>, <c>b[32]</c>, <c>conv2 W[64,32,5,5]</c>, <c>b[64]</c>,
/// <c>fc1 W[H, 64·h·w]</c>, <c>b[H]</c>, <c>fc2 W[K, H]</c>, <c>b[K]</c>, where <c>h = ⌊(⌊(R−4)/2⌋−4)/2⌋</c> (4 for 28)
/// and likewise <c>w</c> for C.</item>
/// </list>
/// Convolutions have stride 1 and no padding. Pixels enter as bytes divided by 255.
/// </remarks>
/// <param name="Kind">The architecture.</param>
/// <param name="Rows">Image rows R the model takes.</param>
/// <param name="Cols">Image columns C the model takes.</param>
/// <param name="Classes">Output classes K; every label must be below it.</param>
/// <param name="Hidden">Width H of the hidden fully-connected layer (both kinds).</param>
public sealed record ModelSpec(ModelKind Kind, int Rows = 28, int Cols = 28, int Classes = 10, int Hidden = 128)
{
    /// <summary>Largest hidden width accepted.</summary>
    public const int MaxHidden = TrainingOptions.MaxHidden;

    /// <summary>Largest number of classes accepted.</summary>
    public const int MaxClasses = 1000;

    /// <summary>Largest model accepted: 2^24 values (64 MiB, the boundary's frame limit).</summary>
    public const int MaxParameterCount = 1 << 24;

    /// <summary>Smallest image side the CNN takes (its feature map must stay at least 1×1).</summary>
    public const int MinCnnSide = 16;

    /// <summary>Output channels of the CNN's first convolution.</summary>
    public const int CnnChannels1 = 32;

    /// <summary>Output channels of the CNN's second convolution.</summary>
    public const int CnnChannels2 = 64;

    /// <summary>Side of both CNN convolution kernels.</summary>
    public const int CnnKernel = 5;

    /// <summary>The MLP on 28×28 images with 10 classes.</summary>
    /// <summary>The model a training plan names (the plan's CNN has the default fully connected width).</summary>
    public static ModelSpec For(PlanModel model)
    {
        ArgumentNullException.ThrowIfNull(model);
        return model.Kind == PlanModelKind.Mlp ? Mlp(model.Hidden) : Cnn();
    }

    public static ModelSpec Mlp(int hidden = 128) => new(ModelKind.Mlp, Hidden: hidden);

    /// <summary>The CNN on 28×28 images with 10 classes (184,586 parameters at <paramref name="hidden"/> 128).</summary>
    public static ModelSpec Cnn(int hidden = 128) => new(ModelKind.Cnn, Hidden: hidden);

    /// <summary>Pixels per image (<c>R·C</c>).</summary>
    public int InputSize => Rows * Cols;

    /// <summary>Length of the model vector.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The specification is out of range (see <see cref="Validate"/>).</exception>
    public int ParameterCount
    {
        get
        {
            Validate();
            return (int)CountParameters(Layers());
        }
    }

    /// <summary>Throws when a value is outside its documented range.</summary>
    /// <exception cref="ArgumentOutOfRangeException">A value is out of range, or the model would be too large.</exception>
    public void Validate()
    {
        if (!Enum.IsDefined(Kind))
        {
            throw new ArgumentOutOfRangeException(nameof(Kind), Kind, "Kind is not a known architecture.");
        }

        int minSide = Kind == ModelKind.Cnn ? MinCnnSide : 1;
        if (Rows < minSide || Rows > ExampleSet.MaxDimension)
        {
            throw new ArgumentOutOfRangeException(nameof(Rows), Rows, $"Rows must be {minSide}..{ExampleSet.MaxDimension} for {Kind}.");
        }

        if (Cols < minSide || Cols > ExampleSet.MaxDimension)
        {
            throw new ArgumentOutOfRangeException(nameof(Cols), Cols, $"Cols must be {minSide}..{ExampleSet.MaxDimension} for {Kind}.");
        }

        if (Classes is < 2 or > MaxClasses)
        {
            throw new ArgumentOutOfRangeException(nameof(Classes), Classes, $"Classes must be 2..{MaxClasses}.");
        }

        if (Hidden is < 1 or > MaxHidden)
        {
            throw new ArgumentOutOfRangeException(nameof(Hidden), Hidden, $"Hidden must be 1..{MaxHidden}.");
        }

        long count = CountParameters(Layers());
        if (count > MaxParameterCount)
        {
            throw new ArgumentOutOfRangeException(nameof(Hidden), Hidden, $"The model would have {count} parameters; at most {MaxParameterCount} are allowed.");
        }
    }

    /// <summary>
    /// A fresh model drawn the way torch initialises <c>Linear</c> and <c>Conv2d</c> by default, from a fixed generator:
    /// every weight and bias of a layer is uniform on <c>[−1/√fan_in, 1/√fan_in)</c>.
    /// </summary>
    /// <remarks>
    /// torch's default is <c>kaiming_uniform_(a = √5)</c> for weights, whose bound is exactly <c>1/√fan_in</c>, and the
    /// same bound for biases. The values come from SplitMix64 seeded with <paramref name="seed"/> (53-bit uniforms,
    /// computed in double and rounded once to float), so equal seeds give equal vectors on every machine.
    /// </remarks>
    /// <exception cref="ArgumentOutOfRangeException">The specification is out of range.</exception>
    public float[] InitialModel(ulong seed)
    {
        var model = new float[ParameterCount];
        var random = new SplitMix64(seed);
        int offset = 0;
        foreach (LayerShape layer in Layers())
        {
            double bound = 1.0 / Math.Sqrt(layer.FanIn);
            int length = layer.WeightLength + layer.Outputs;
            for (int i = 0; i < length; i++)
            {
                model[offset + i] = (float)(((2 * random.NextDouble()) - 1) * bound);
            }

            offset += length;
        }

        return model;
    }

    /// <summary>The layers in forward order; the specification must be valid for the sizes to mean anything.</summary>
    internal LayerShape[] Layers()
    {
        if (Kind == ModelKind.Mlp)
        {
            return
            [
                new LayerShape(LayerKind.Linear, Hidden, InputSize, 1, LayerActivation.Relu, FlattenInput: false),
                new LayerShape(LayerKind.Linear, Classes, Hidden, 1, LayerActivation.None, FlattenInput: false),
            ];
        }

        int k = CnnKernel;
        long rows = (((Rows - k + 1) / 2) - k + 1) / 2;
        long cols = (((Cols - k + 1) / 2) - k + 1) / 2;
        int features = (int)Math.Min(int.MaxValue, CnnChannels2 * rows * cols);
        return
        [
            new LayerShape(LayerKind.Conv2d, CnnChannels1, 1, k, LayerActivation.ReluMaxPool2, FlattenInput: false),
            new LayerShape(LayerKind.Conv2d, CnnChannels2, CnnChannels1, k, LayerActivation.ReluMaxPool2, FlattenInput: false),
            new LayerShape(LayerKind.Linear, Hidden, features, 1, LayerActivation.Relu, FlattenInput: true),
            new LayerShape(LayerKind.Linear, Classes, Hidden, 1, LayerActivation.None, FlattenInput: false),
        ];
    }

    private static long CountParameters(LayerShape[] layers)
    {
        long count = 0;
        foreach (LayerShape layer in layers)
        {
            count += ((long)layer.Outputs * layer.Inputs * layer.Kernel * layer.Kernel) + layer.Outputs;
        }

        return count;
    }
}

/// <summary>How a layer maps its input.</summary>
internal enum LayerKind
{
    Linear,
    Conv2d,
}

/// <summary>What follows a layer.</summary>
internal enum LayerActivation
{
    None,
    Relu,
    ReluMaxPool2,
}

/// <summary>
/// One layer of a <see cref="ModelSpec"/>: <c>Outputs</c> units (or channels) over <c>Inputs</c> features (or channels)
/// with a square kernel (1 for linear layers); weight <c>[Outputs, Inputs(, Kernel, Kernel)]</c>, then bias <c>[Outputs]</c>.
/// </summary>
internal readonly record struct LayerShape(
    LayerKind Kind,
    int Outputs,
    int Inputs,
    int Kernel,
    LayerActivation Activation,
    bool FlattenInput)
{
    public int FanIn => Inputs * Kernel * Kernel;

    public int WeightLength => Outputs * FanIn;

    public long[] WeightShape => Kind == LayerKind.Linear ? [Outputs, Inputs] : [Outputs, Inputs, Kernel, Kernel];
}
