using System.Text;
using System.Text.Json.Nodes;

namespace Enclave.Privacy.Tests;

public sealed class TrainingPlanTests
{
    private const string Plain = """
        {"type":"enclave-training-plan/1","id":"fashion-mlp","purpose":"fashion-classification",
         "model":{"kind":"mlp","hidden":128},"optimizer":{"learningRate":0.05,"momentum":0.9},
         "localEpochs":1,"batchSize":64,"rounds":10,
         "algorithm":{"proximalMu":0,"server":{"kind":"sgd","learningRate":1,"momentum":0}},
         "updateClipNorm":10,"privacy":{"kind":"none"},"seed":7}
        """;

    private const string Private = """
        {"type":"enclave-training-plan/1","id":"fashion-cnn-dp","purpose":"fashion-classification",
         "model":{"kind":"cnn"},"optimizer":{"learningRate":0.5,"momentum":0},"rounds":5,
         "algorithm":{"proximalMu":0.01,"server":{"kind":"adam","learningRate":0.01,"beta1":0.9,"beta2":0.99,"epsilon":0.001}},
         "updateClipNorm":5,
         "privacy":{"kind":"record","samplingRate":0.01,"noiseMultiplier":1.1,"exampleClipNorm":1,"stepsPerRound":100,"delta":1e-5},
         "seed":1}
        """;

    [Fact]
    public void A_plain_plan_parses_with_every_value()
    {
        TrainingPlan plan = TrainingPlan.Parse(Encoding.UTF8.GetBytes(Plain));

        Assert.Equal("fashion-mlp", plan.Id);
        Assert.Equal("fashion-classification", plan.Purpose);
        Assert.Equal(new PlanModel(PlanModelKind.Mlp, 128), plan.Model);
        Assert.Equal(new PlanOptimizer(0.05, 0.9), plan.Optimizer);
        Assert.Equal((1, 64, 10), (plan.LocalEpochs, plan.BatchSize, plan.Rounds));
        Assert.Equal(ServerOptimizerKind.Sgd, plan.Algorithm.Server.Kind);
        Assert.Equal(10, plan.UpdateClipNorm);
        Assert.Null(plan.Privacy);
        Assert.Null(plan.RoundSpend);
        Assert.Null(plan.EpsilonAfter(10));
        Assert.Equal(7UL, plan.Seed);
    }

    [Fact]
    public void A_private_plan_spends_what_the_accountant_says_for_its_steps()
    {
        TrainingPlan plan = TrainingPlan.Parse(Encoding.UTF8.GetBytes(Private));

        Assert.Equal(new RecordPrivacy(0.01, 1.1, 1, 100, 1e-5), plan.Privacy);
        Assert.Equal((0, 0), (plan.LocalEpochs, plan.BatchSize));
        Assert.Equal(ServerOptimizerKind.Adam, plan.Algorithm.Server.Kind);
        Assert.Equal(0.01, plan.Algorithm.ProximalMu);
        PrivacyGuarantee five = plan.EpsilonAfter(5)!.Value;
        Assert.Equal(RdpAccountant.Epsilon(0.01, 1.1, 500, 1e-5), five);
        Assert.True(plan.EpsilonAfter(1)!.Value.Epsilon < five.Epsilon);
    }

    [Fact]
    public void The_hash_covers_what_the_plan_says_not_how_the_file_is_laid_out()
    {
        TrainingPlan plan = TrainingPlan.Parse(Encoding.UTF8.GetBytes(Plain));
        JsonObject reordered = new();
        foreach (KeyValuePair<string, JsonNode?> member in JsonNode.Parse(Plain)!.AsObject().Reverse())
        {
            reordered[member.Key] = member.Value?.DeepClone();
        }

        TrainingPlan same = TrainingPlan.Parse(Encoding.UTF8.GetBytes(reordered.ToJsonString(new() { WriteIndented = true })));
        TrainingPlan canonical = TrainingPlan.Parse(plan.CanonicalBytes);

        Assert.Equal(plan.Sha256Hex, same.Sha256Hex);
        Assert.Equal(plan.Sha256Hex, canonical.Sha256Hex);
        Assert.Equal(plan.CanonicalBytes.ToArray(), canonical.CanonicalBytes.ToArray());
        Assert.NotEqual(plan.Sha256Hex, TrainingPlan.Parse(Encoding.UTF8.GetBytes(Plain.Replace("\"seed\":7", "\"seed\":8"))).Sha256Hex);
    }

    [Theory]
    [InlineData("\"seed\":7", "\"seed\":7,\"extra\":1", "plan has an unknown member \"extra\"")]
    [InlineData("\"seed\":7", "\"seed\":7,\"seed\":8", "not valid JSON")]
    [InlineData("enclave-training-plan/1", "enclave-training-plan/2", "plan.type")]
    [InlineData("\"id\":\"fashion-mlp\"", "\"id\":\"Fashion MLP\"", "plan.id")]
    [InlineData("\"hidden\":128", "\"hidden\":0", "plan.model.hidden must be an integer in 1..4096")]
    [InlineData("\"kind\":\"mlp\"", "\"kind\":\"transformer\"", "plan.model.kind")]
    [InlineData("\"learningRate\":0.05", "\"learningRate\":0", "plan.optimizer.learningRate must be a number in (0, 10]")]
    [InlineData("\"momentum\":0.9", "\"momentum\":1", "plan.optimizer.momentum")]
    [InlineData("\"batchSize\":64", "\"batchSize\":64.5", "plan.batchSize must be an integer")]
    [InlineData("\"batchSize\":64,", "", "plan.batchSize is missing")]
    [InlineData("\"rounds\":10", "\"rounds\":\"10\"", "plan.rounds must be an integer")]
    [InlineData("\"updateClipNorm\":10", "\"updateClipNorm\":-1", "plan.updateClipNorm")]
    [InlineData("\"proximalMu\":0", "\"proximalMu\":-0.1", "plan.algorithm.proximalMu")]
    [InlineData("\"kind\":\"sgd\"", "\"kind\":\"yogi\"", "plan.algorithm.server.kind")]
    [InlineData("{\"kind\":\"none\"}", "{\"kind\":\"none\",\"delta\":1e-5}", "plan.privacy has an unknown member \"delta\"")]
    [InlineData("\"seed\":7", "\"seed\":-1", "plan.seed")]
    public void A_plan_out_of_shape_or_bounds_is_refused_naming_the_member(string from, string to, string expected)
    {
        string changed = Plain.Replace(from, to);
        Assert.NotEqual(Plain, changed);

        TrainingPlanException ex = Assert.Throws<TrainingPlanException>(() => TrainingPlan.Parse(Encoding.UTF8.GetBytes(changed)));

        Assert.Contains(expected, ex.Message);
    }

    [Theory]
    [InlineData("\"rounds\":5", "\"localEpochs\":1,\"rounds\":5", "plan.localEpochs and plan.batchSize must be left out")]
    [InlineData("\"samplingRate\":0.01", "\"samplingRate\":1.5", "plan.privacy.samplingRate must be a number in (0, 1]")]
    [InlineData("\"noiseMultiplier\":1.1", "\"noiseMultiplier\":0", "plan.privacy.noiseMultiplier")]
    [InlineData("\"stepsPerRound\":100", "\"stepsPerRound\":0", "plan.privacy.stepsPerRound")]
    [InlineData("\"delta\":1e-5", "\"delta\":0.5", "plan.privacy.delta")]
    [InlineData("\"model\":{\"kind\":\"cnn\"}", "\"model\":{\"kind\":\"cnn\",\"hidden\":3}", "plan.model.hidden is for the mlp only")]
    public void A_private_plan_out_of_bounds_is_refused_naming_the_member(string from, string to, string expected)
    {
        string changed = Private.Replace(from, to);
        Assert.NotEqual(Private, changed);

        TrainingPlanException ex = Assert.Throws<TrainingPlanException>(() => TrainingPlan.Parse(Encoding.UTF8.GetBytes(changed)));

        Assert.Contains(expected, ex.Message);
    }

    [Theory]
    [InlineData("")]
    [InlineData("[]")]
    [InlineData("null")]
    [InlineData("{\"type\":\"enclave-training-plan/1\"")]
    public void Bytes_that_are_not_a_json_object_are_refused(string text)
    {
        Assert.Throws<TrainingPlanException>(() => TrainingPlan.Parse(Encoding.UTF8.GetBytes(text)));
    }

    [Fact]
    public void A_plan_above_the_size_bound_is_refused_before_it_is_parsed()
    {
        byte[] large = Encoding.UTF8.GetBytes(Plain.Replace("\"seed\":7", "\"seed\":7" + new string(' ', TrainingPlan.MaxLength)));

        TrainingPlanException ex = Assert.Throws<TrainingPlanException>(() => TrainingPlan.Parse(large));

        Assert.Contains("above", ex.Message);
    }
}
