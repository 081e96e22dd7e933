using Enclave.Aggregator.Model;
using Enclave.Privacy;

namespace Enclave.Aggregator.Tests;

public sealed class ServerOptimizerStateTests
{
    private static readonly float[] s_model = [1f, -2f, 0.5f];
    private static readonly float[] s_delta = [0.1f, 0.2f, -0.4f];

    [Fact]
    public void FedAvg_adds_the_average_update_exactly()
    {
        var fedAvg = new ServerOptimizerState(new ServerOptimizer(ServerOptimizerKind.Sgd, 1, 0, 0, 0, 0), 3);

        float[] next = fedAvg.Step(s_model, s_delta);

        Assert.Equal([s_model[0] + s_delta[0], s_model[1] + s_delta[1], s_model[2] + s_delta[2]], next);
    }

    [Fact]
    public void FedAvgM_carries_momentum_from_round_to_round()
    {
        var fedAvgM = new ServerOptimizerState(new ServerOptimizer(ServerOptimizerKind.Sgd, 0.5, 0.9, 0, 0, 0), 3);

        float[] first = fedAvgM.Step(s_model, s_delta);
        float[] second = fedAvgM.Step(first, s_delta);

        // m1 = Δ, x1 = x0 + 0.5Δ; m2 = 0.9Δ + Δ, x2 = x1 + 0.5·1.9Δ.
        for (int i = 0; i < 3; i++)
        {
            Assert.Equal(s_model[i] + (0.5f * s_delta[i]), first[i], 6);
            Assert.Equal(first[i] + (0.5f * 1.9f * s_delta[i]), second[i], 6);
        }
    }

    [Fact]
    public void FedAdam_steps_by_the_learning_rate_times_the_sign_at_first_and_adapts_after()
    {
        var fedAdam = new ServerOptimizerState(new ServerOptimizer(ServerOptimizerKind.Adam, 0.01, 0, 0.9, 0.99, 1e-9), 3);

        float[] first = fedAdam.Step(s_model, s_delta);

        // m = 0.1Δ, v = 0.01Δ²: m/√v = sign(Δ), so every coordinate moves by η whatever its size (no bias correction).
        for (int i = 0; i < 3; i++)
        {
            Assert.Equal(s_model[i] + (0.01f * MathF.Sign(s_delta[i])), first[i], 5);
        }

        float[] second = fedAdam.Step(first, [0f, 0f, 0f]);
        Assert.True(Math.Abs(second[0] - first[0]) < 0.01f, "with no new update the step shrinks as the moments decay");
    }

    [Fact]
    public void An_update_of_another_length_is_refused()
    {
        var fedAvg = new ServerOptimizerState(new ServerOptimizer(ServerOptimizerKind.Sgd, 1, 0, 0, 0, 0), 3);

        Assert.Throws<ArgumentException>(() => fedAvg.Step(s_model, [1f, 2f]));
    }
}
