// The coordinator's optimiser over the averaged update (docs/formats.md section 14, algorithm.server). The enclaves'
// sample-weighted average update Δ is a pseudo-gradient step; the plan chooses how the global model follows it:
//   sgd:  m ← μ·m + Δ;  x ← x + η·m                  (η = 1, μ = 0 is FedAvg; μ > 0 is FedAvgM)
//   adam: m ← β1·m + (1−β1)·Δ;  v ← β2·v + (1−β2)·Δ²;  x ← x + η·m / (√v + ε)   (FedAdam, Reddi et al. 2021)
// The moments live in memory: a coordinator that restarts continues with fresh moments (the model itself is durable).
using Enclave.Privacy;

namespace Enclave.Aggregator.Model;

public sealed class ServerOptimizerState
{
    private readonly ServerOptimizer _settings;
    private readonly float[] _m;
    private readonly float[]? _v;

    public ServerOptimizerState(ServerOptimizer settings, int length)
    {
        ArgumentNullException.ThrowIfNull(settings);
        _settings = settings;
        _m = new float[length];
        _v = settings.Kind == ServerOptimizerKind.Adam ? new float[length] : null;
    }

    /// <summary>The next global model from <paramref name="model"/> and the averaged update <paramref name="delta"/>.</summary>
    public float[] Step(ReadOnlySpan<float> model, ReadOnlySpan<float> delta)
    {
        if (model.Length != _m.Length || delta.Length != _m.Length)
        {
            throw new ArgumentException($"the model and update must have {_m.Length} values");
        }

        var next = new float[model.Length];
        float eta = (float)_settings.LearningRate;
        if (_v is null)
        {
            float mu = (float)_settings.Momentum;
            for (int i = 0; i < next.Length; i++)
            {
                _m[i] = (mu * _m[i]) + delta[i];
                next[i] = model[i] + (eta * _m[i]);
            }
        }
        else
        {
            float b1 = (float)_settings.Beta1, b2 = (float)_settings.Beta2, eps = (float)_settings.Epsilon;
            for (int i = 0; i < next.Length; i++)
            {
                _m[i] = (b1 * _m[i]) + ((1 - b1) * delta[i]);
                _v[i] = (b2 * _v[i]) + ((1 - b2) * delta[i] * delta[i]);
                next[i] = model[i] + (eta * _m[i] / (MathF.Sqrt(_v[i]) + eps));
            }
        }

        return next;
    }
}
