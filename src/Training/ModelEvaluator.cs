using TorchSharp;
using static TorchSharp.torch;

namespace Enclave.Training;

/// <summary>Measures a model vector on labelled examples with TorchSharp (for the coordinator and benchmarks).</summary>
public static class ModelEvaluator
{
    /// <summary>Mean cross-entropy and accuracy of <paramref name="model"/> over <paramref name="data"/>.</summary>
    /// <param name="spec">The architecture.</param>
    /// <param name="model">The model vector (docs/formats.md section 7, length <see cref="ModelSpec.ParameterCount"/>).</param>
    /// <param name="data">The examples, shaped as the model takes them; there must be at least one.</param>
    /// <exception cref="ArgumentOutOfRangeException">The specification is out of range.</exception>
    /// <exception cref="ArgumentException">The model or the data do not fit the specification.</exception>
    public static (double Loss, double Accuracy) Evaluate(ModelSpec spec, float[] model, ExampleSet data)
    {
        ArgumentNullException.ThrowIfNull(spec);
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(data);
        spec.Validate();
        LocalTrainer.CheckModel(spec, model, nameof(model));
        LocalTrainer.CheckData(spec, data, nameof(data));

        torch.set_num_threads(1);
        using (NewDisposeScope())
        {
            var network = new Network(spec, model, requiresGrad: false);
            return LocalTrainer.Evaluate(network, LocalTrainer.ToPixelTensor(data), LocalTrainer.ToLabelTensor(data), data.Count);
        }
    }
}
