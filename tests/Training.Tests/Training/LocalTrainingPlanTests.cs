
namespace Enclave.Training.Tests;

public sealed class LocalTrainingPlanTests
{
    [Fact]
    public void APlainPlanTrainsExactlyAsTheOptionsOverload()
    {
        ExampleSet data = TrainingData.Subset(TrainingData.Train, 0, 300);
        float[] global = ModelSpec.Mlp(32).InitialModel(3);

        TrainingResult fromOptions = LocalTrainer.Train(global, data, new TrainingOptions(Hidden: 32, Epochs: 2, BatchSize: 50, Seed: 9));
        TrainingResult fromPlan = LocalTrainer.Train(global, data, new LocalTrainingPlan(ModelSpec.Mlp(32), Epochs: 2, BatchSize: 50, Seed: 9));

        Assert.Equal(fromOptions, fromPlan with { Delta = fromOptions.Delta });
        Assert.Equal(fromOptions.Delta, fromPlan.Delta);
        Assert.Equal(12, fromPlan.Steps);
        Assert.Equal(TrainingData.Norm(fromPlan.Delta), fromPlan.UpdateNorm, 6);
    }

    [Fact]
    public void CnnLearnsFashionMnist()
    {
        ModelSpec spec = ModelSpec.Cnn();
        float[] global = spec.InitialModel(7);
        var plan = new LocalTrainingPlan(spec, Epochs: 4, BatchSize: 16, LearningRate: 0.03, Momentum: 0.9, Seed: 5);

        TrainingResult result = LocalTrainer.Train(global, TrainingData.Train, plan);

        float[] local = global.Select((g, i) => g + result.Delta[i]).ToArray();
        Assert.Equal(4 * 125, result.Steps);
        Assert.True(result.TrainAccuracy >= 0.80, $"train accuracy after four epochs is {result.TrainAccuracy:F3}");
        (double loss, double accuracy) = ModelEvaluator.Evaluate(spec, local, TrainingData.Train);
        Assert.Equal(result.TrainAccuracy, accuracy, 3);
        Assert.Equal(result.FinalLoss, loss, 3);
        double heldOut = ModelEvaluator.Evaluate(spec, local, TrainingData.HeldOut).Accuracy;
        Assert.True(heldOut >= 0.72, $"held-out accuracy after four epochs is {heldOut:F3}");
    }

    [Fact]
    public void AHugeUpdateIsReturnedWithinTheClipNorm()
    {
        ExampleSet poisoned = TrainingData.Poisoned(TrainingData.Subset(TrainingData.Train, 0, 300));
        float[] global = ModelSpec.Mlp(32).InitialModel(3);
        var plan = new LocalTrainingPlan(ModelSpec.Mlp(32), Epochs: 1, BatchSize: 300, LearningRate: 1e4, Momentum: 0);

        TrainingResult unclipped = LocalTrainer.Train(global, poisoned, plan);
        TrainingResult clipped = LocalTrainer.Train(global, poisoned, plan with { UpdateClipNorm = 1.5 });

        double norm = TrainingData.Norm(clipped.Delta);
        Assert.True(norm <= 1.5, $"returned norm {norm:R} exceeds 1.5");
        Assert.True(norm >= 1.5 * (1 - 1e-6), $"returned norm {norm:R} is needlessly small");
        Assert.True(unclipped.UpdateNorm > 1000, $"the update was not huge: {unclipped.UpdateNorm}");
        Assert.Equal(unclipped.UpdateNorm, clipped.UpdateNorm);
        double scale = 1.5 / unclipped.UpdateNorm;
        double error = TrainingData.RelativeError(unclipped.Delta.Select(d => d * scale).ToArray(), clipped.Delta);
        Assert.True(error < 1e-6, $"clipping changed the direction: {error:E2}");
        (double loss, double accuracy) = ModelEvaluator.Evaluate(
            plan.Model, global.Select((g, i) => g + clipped.Delta[i]).ToArray(), poisoned);
        Assert.Equal(accuracy, clipped.TrainAccuracy, 10);
        Assert.Equal(loss, clipped.FinalLoss, 4);
    }

    [Fact]
    public void ASmallUpdateIsLeftAlone()
    {
        ExampleSet data = TrainingData.Subset(TrainingData.Train, 0, 64);
        float[] global = ModelSpec.Mlp(16).InitialModel(3);
        var plan = new LocalTrainingPlan(ModelSpec.Mlp(16), BatchSize: 16);

        TrainingResult plain = LocalTrainer.Train(global, data, plan);
        TrainingResult bounded = LocalTrainer.Train(global, data, plan with { UpdateClipNorm = plain.UpdateNorm * 2 });

        Assert.Equal(plain.Delta, bounded.Delta);
    }

    [Fact]
    public void FedProxKeepsTheLocalModelCloserToTheGlobal()
    {
        ExampleSet data = TrainingData.Subset(TrainingData.Train, 0, 500);
        float[] global = ModelSpec.Mlp(32).InitialModel(3);
        var plan = new LocalTrainingPlan(ModelSpec.Mlp(32), Epochs: 2, BatchSize: 25, Seed: 4);

        TrainingResult fedAvg = LocalTrainer.Train(global, data, plan);
        TrainingResult fedProx = LocalTrainer.Train(global, data, plan with { ProximalMu = 0.5 });

        Assert.True(
            fedProx.UpdateNorm < 0.8 * fedAvg.UpdateNorm,
            $"FedProx moved {fedProx.UpdateNorm:F3}, FedAvg {fedAvg.UpdateNorm:F3}");
        Assert.True(fedProx.TrainAccuracy > 0.3, $"FedProx train accuracy {fedProx.TrainAccuracy:F3}");
    }

    [Fact]
    public void FedProxAddsMuTimesTheDistanceToTheGradient()
    {
        const int Hidden = 16;
        const double LearningRate = 0.1;
        const double Mu = 3.0;
        float[] global = TrainingData.ScaledUp(ModelSpec.Mlp(Hidden).InitialModel(13), 4);
        ExampleSet data = TrainingData.Subset(TrainingData.HeldOut, 0, 32);

        TrainingResult result = LocalTrainer.Train(
            global,
            data,
            new LocalTrainingPlan(ModelSpec.Mlp(Hidden), Epochs: 2, BatchSize: data.Count, LearningRate: LearningRate, Momentum: 0, ProximalMu: Mu));

        double[] theta0 = TrainingData.ToDouble(global);
        double[] g0 = ReferenceMlp.Gradient(theta0, Hidden, data);
        double[] theta1 = theta0.Select((t, i) => t - (LearningRate * g0[i])).ToArray();
        double[] g1 = ReferenceMlp.Gradient(theta1, Hidden, data);
        double[] expected = theta1.Select((t, i) => t - (LearningRate * (g1[i] + (Mu * (t - theta0[i])))) - theta0[i]).ToArray();
        double error = TrainingData.RelativeError(expected, result.Delta);
        Assert.True(error < 1e-4, $"relative error {error:E2}");
    }

    [Fact]
    public void EqualSeedsGiveEqualCnnRuns()
    {
        ModelSpec spec = ModelSpec.Cnn(32);
        float[] global = spec.InitialModel(2);
        ExampleSet data = TrainingData.Subset(TrainingData.Train, 0, 96);
        var plan = new LocalTrainingPlan(spec, BatchSize: 32, Seed: 8);

        TrainingResult first = LocalTrainer.Train(global, data, plan);
        TrainingResult second = LocalTrainer.Train(global, data, plan);
        TrainingResult otherSeed = LocalTrainer.Train(global, data, plan with { Seed = 9 });

        Assert.Equal(first.Delta, second.Delta);
        Assert.Equal(first.FinalLoss, second.FinalLoss);
        Assert.NotEqual(first.Delta, otherSeed.Delta);
    }

    [Fact]
    public void DivergenceIsAnError()
    {
        ExampleSet data = TrainingData.Subset(TrainingData.Train, 0, 64);
        float[] global = ModelSpec.Mlp(16).InitialModel(3);

        Assert.Throws<ArithmeticException>(() => LocalTrainer.Train(
            global, data, new LocalTrainingPlan(ModelSpec.Mlp(16), Epochs: 3, BatchSize: 64, LearningRate: 1e30, UpdateClipNorm: 1)));
    }

    public static TheoryData<LocalTrainingPlan> BadPlans => new()
    {
        new LocalTrainingPlan(ModelSpec.Mlp(0)),
        new LocalTrainingPlan(ModelSpec.Mlp(), Epochs: -1),
        new LocalTrainingPlan(ModelSpec.Mlp(), BatchSize: 0),
        new LocalTrainingPlan(ModelSpec.Mlp(), LearningRate: double.PositiveInfinity),
        new LocalTrainingPlan(ModelSpec.Mlp(), Momentum: 1),
        new LocalTrainingPlan(ModelSpec.Mlp(), ProximalMu: -0.1),
        new LocalTrainingPlan(ModelSpec.Mlp(), ProximalMu: double.NaN),
        new LocalTrainingPlan(ModelSpec.Mlp(), UpdateClipNorm: -1),
        new LocalTrainingPlan(ModelSpec.Mlp(), Dp: new DpSgdSettings(0, 1, 1, 10)),
        new LocalTrainingPlan(ModelSpec.Mlp(), Dp: new DpSgdSettings(1.5, 1, 1, 10)),
        new LocalTrainingPlan(ModelSpec.Mlp(), Dp: new DpSgdSettings(0.1, -1, 1, 10)),
        new LocalTrainingPlan(ModelSpec.Mlp(), Dp: new DpSgdSettings(0.1, 1, 0, 10)),
        new LocalTrainingPlan(ModelSpec.Mlp(), Dp: new DpSgdSettings(0.1, 1, 1, 0)),
    };

    [Theory]
    [MemberData(nameof(BadPlans))]
    public void RejectsPlansOutOfRange(LocalTrainingPlan plan)
    {
        Assert.Throws<ArgumentOutOfRangeException>(plan.Validate);
        Assert.Throws<ArgumentOutOfRangeException>(
            () => LocalTrainer.Train(ModelSpec.Mlp().InitialModel(1), TrainingData.Subset(TrainingData.Train, 0, 4), plan));
    }

    [Fact]
    public void RejectsModelsAndDataThatDoNotFit()
    {
        ExampleSet data = TrainingData.Subset(TrainingData.Train, 0, 4);
        var plan = new LocalTrainingPlan(ModelSpec.Cnn());

        Assert.Throws<ArgumentException>(() => LocalTrainer.Train(ModelSpec.Mlp().InitialModel(1), data, plan));
        Assert.Throws<ArgumentException>(
            () => LocalTrainer.Train(ModelSpec.Cnn().InitialModel(1), ExampleSet.Create([1], new byte[784], 784, 1), plan));
        ModelSpec binary = ModelSpec.Mlp() with { Classes = 2 };
        Assert.Throws<ArgumentException>(() => LocalTrainer.Train(binary.InitialModel(1), data, plan with { Model = binary }));
    }
}
