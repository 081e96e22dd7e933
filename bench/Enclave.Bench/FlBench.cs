// `scripts/bench.sh fl`: the cost of confidentiality to a model, in one run. The same plan is trained on the same
// shards with the same seeds twice: once through the whole confidential path (`enclave demo`: attestation, key
// release, decryption inside the enclaves, masking and unmasking, every party its own process), once as plain
// FedAvg in this process with no attestation, encryption or masking, the regions trained in parallel as the
// enclaves are. Prints the two final test accuracies, their gap in percentage points, the median round times and
// their ratio, and the ε each region's dataset spent (the plan's accountant; null without DP).
using System.CommandLine;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using Enclave.Aggregator.Data;
using Enclave.Aggregator.Model;
using Enclave.Privacy;
using Enclave.Testing;
using Enclave.Training;

namespace Enclave.Bench;

internal static class FlBench
{
    public static Command Create()
    {
        var model = new Option<string>("--model") { Description = "mlp or cnn (the default plan for it)", DefaultValueFactory = _ => "mlp" };
        var planFile = new Option<string?>("--plan") { Description = "a training plan JSON instead of the default for --model" };
        var regions = new Option<int>("--regions") { Description = "regions (one shard each)", DefaultValueFactory = _ => 3 };
        var rounds = new Option<int>("--rounds") { Description = "federated rounds", DefaultValueFactory = _ => 3 };
        var samples = new Option<int?>("--samples-per-region") { Description = "limit each region's shard (default: the whole shard)" };
        var partitionText = new Option<string>("--partition") { Description = "iid, dirichlet:ALPHA or shards:K (as the demo)", DefaultValueFactory = _ => "iid" };
        var dpEpsilon = new Option<double?>("--dp-epsilon") { Description = "train with record-level DP-SGD, its noise set so each dataset spends at most this ε over the run (δ 1e-5)" };
        Option<string?> json = BenchJson.Option();
        var command = new Command("fl", "Train one plan confidentially (the demo) and in plain FedAvg, side by side: accuracy gap and round-time ratio.")
        {
            model, planFile, regions, rounds, samples, partitionText, dpEpsilon, json,
        };
        command.SetAction((parse, cancellationToken) => BenchErrors.RunAsync(async () =>
        {
            int regionCount = parse.GetValue(regions), roundCount = parse.GetValue(rounds);
            if (regionCount is < 3 or > 8 || roundCount is < 1 or > 1000)
            {
                throw new BenchException("--regions must be 3 to 8 and --rounds 1 to 1000");
            }

            string planJson = parse.GetValue(planFile) is { } path
                ? File.ReadAllText(path)
                : DefaultPlan(parse.GetValue(model) ?? "mlp", roundCount, parse.GetValue(dpEpsilon), parse.GetValue(samples));
            TrainingPlan plan;
            try
            {
                plan = TrainingPlan.Parse(Encoding.UTF8.GetBytes(planJson));
            }
            catch (TrainingPlanException ex)
            {
                throw new BenchException($"the plan: {ex.Message}");
            }

            if (plan.Rounds < roundCount)
            {
                throw new BenchException($"the plan allows {plan.Rounds} rounds; --rounds asks for {roundCount}");
            }

            Partition partition;
            try
            {
                partition = Partition.Parse(parse.GetValue(partitionText)!);
            }
            catch (FormatException ex)
            {
                throw new BenchException($"--partition: {ex.Message}");
            }

            TextWriter progress = BenchJson.Requested(parse, json) ? Console.Error : Console.Out;
            progress.WriteLine($"plan {plan.Id} ({plan.Sha256Hex[..16]}…): {plan.Model.Kind}, {roundCount} rounds, {regionCount} regions");
            (double plainAccuracy, double[] plainSeconds) = Plain(plan, regionCount, roundCount, parse.GetValue(samples), partition, progress);
            (double confidentialAccuracy, double[] confidentialSeconds, double? manifestEpsilon) = await ConfidentialAsync(plan, regionCount, roundCount, parse.GetValue(samples), partition, progress, cancellationToken).ConfigureAwait(false);
            double plainMedian = Median(plainSeconds), confidentialMedian = Median(confidentialSeconds);
            var result = new JsonObject
            {
                ["plainAccuracy"] = Math.Round(plainAccuracy, 4),
                ["confidentialAccuracy"] = Math.Round(confidentialAccuracy, 4),
                ["accuracyGapPp"] = Math.Round((plainAccuracy - confidentialAccuracy) * 100, 2),
                ["plainRoundSeconds"] = Math.Round(plainMedian, 3),
                ["confidentialRoundSeconds"] = Math.Round(confidentialMedian, 3),
                ["roundTimeRatio"] = Math.Round(confidentialMedian / plainMedian, 3),
                ["epsilon"] = plan.EpsilonAfter(roundCount) is { } e ? Math.Round(e.Epsilon, 4) : null,
                ["manifestEpsilon"] = manifestEpsilon is { } m ? Math.Round(m, 4) : null,
                ["model"] = plan.Model.Kind.ToString().ToLowerInvariant(),
                ["rounds"] = roundCount,
                ["regions"] = regionCount,
                ["partition"] = partition.ToString(),
                ["plan"] = plan.Sha256Hex,
                ["plainRoundSecondsAll"] = new JsonArray([.. plainSeconds.Select(s => (JsonNode)Math.Round(s, 3))]),
                ["confidentialRoundSecondsAll"] = new JsonArray([.. confidentialSeconds.Select(s => (JsonNode)Math.Round(s, 3))]),
            };
            if (BenchJson.Requested(parse, json))
            {
                BenchJson.Write(parse, json, result);
            }
            else
            {
                Console.WriteLine(result.ToJsonString(new System.Text.Json.JsonSerializerOptions { WriteIndented = true }));
            }

            return 0;
        }));
        return command;
    }

    /// <summary>The default plans: the demo's MLP, and a CNN; with --dp-epsilon, record-level DP-SGD whose noise
    /// multiplier is the smallest (of a fine grid) that keeps each dataset's ε over all rounds within the target.</summary>
    private static string DefaultPlan(string model, int rounds, double? dpEpsilon, int? samplesPerRegion)
    {
        string modelJson = model switch
        {
            "mlp" => "{\"kind\":\"mlp\",\"hidden\":128}",
            "cnn" => "{\"kind\":\"cnn\"}",
            _ => throw new BenchException($"--model must be mlp or cnn, not \"{model}\""),
        };
        string training;
        if (dpEpsilon is { } target)
        {
            if (!(target > 0 && target <= 100))
            {
                throw new BenchException("--dp-epsilon must be in (0, 100]");
            }

            // One epoch of Poisson-sampled steps per round at an expected batch of 256.
            int examples = samplesPerRegion ?? 20_000;
            double q = Math.Min(1, 256.0 / examples);
            int steps = (int)Math.Ceiling(1 / q);
            double sigma = Enumerable.Range(1, 4000).Select(i => i * 0.01).FirstOrDefault(s => RdpAccountant.Epsilon(q, s, (long)steps * rounds, 1e-5).Epsilon <= target);
            if (sigma == 0)
            {
                throw new BenchException($"no noise multiplier up to 40 keeps ε within {target}");
            }

            training = string.Create(CultureInfo.InvariantCulture,
                $"\"optimizer\":{{\"learningRate\":{(model == "cnn" ? 1.0 : 2.0)},\"momentum\":0}},\"rounds\":{rounds},\"algorithm\":{{\"proximalMu\":0,\"server\":{{\"kind\":\"sgd\",\"learningRate\":1,\"momentum\":0}}}},\"updateClipNorm\":100,\"privacy\":{{\"kind\":\"record\",\"samplingRate\":{q},\"noiseMultiplier\":{sigma},\"exampleClipNorm\":1,\"stepsPerRound\":{steps},\"delta\":1e-5}}");
        }
        else
        {
            training = string.Create(CultureInfo.InvariantCulture,
                $"\"optimizer\":{{\"learningRate\":0.02,\"momentum\":0.9}},\"localEpochs\":1,\"batchSize\":32,\"rounds\":{rounds},\"algorithm\":{{\"proximalMu\":0,\"server\":{{\"kind\":\"sgd\",\"learningRate\":1,\"momentum\":0}}}},\"updateClipNorm\":100,\"privacy\":{{\"kind\":\"none\"}}");
        }

        return $"{{\"type\":\"enclave-training-plan/1\",\"id\":\"bench-fl-{model}\",\"purpose\":\"fashion-classification\",\"model\":{modelJson},{training},\"seed\":7}}";
    }

    // Plain FedAvg: each region's shard in memory, trained in parallel, averaged by sample count, then the plan's
    // server optimiser and the test-set evaluation the coordinator runs.
    private static (double Accuracy, double[] RoundSeconds) Plain(TrainingPlan plan, int regions, int rounds, int? limit, Partition partition, TextWriter progress)
    {
        (byte[] pixels, byte[] labels, int count) = FashionMnist.LoadTrain(RepositoryPaths.FashionMnist);
        ExampleSet[] shards = [.. Enumerable.Range(0, regions).Select(r => Shard(pixels, labels, partition.Indices(labels.AsSpan(0, count), r, regions, limit)))];
        (byte[] testPixels, byte[] testLabels, int _) = FashionMnist.LoadTest(RepositoryPaths.FashionMnist);
        ExampleSet test = ExampleSet.Create(testLabels, testPixels, FashionMnist.Side, FashionMnist.Side);
        ModelSpec spec = ModelSpec.For(plan.Model);
        float[] model = spec.InitialModel(plan.Seed);
        var server = new ServerOptimizerState(plan.Algorithm.Server, model.Length);
        var seconds = new double[rounds];
        double accuracy = 0;
        for (int round = 1; round <= rounds; round++)
        {
            long started = Stopwatch.GetTimestamp();
            LocalTrainingPlan local = LocalTrainingPlan.ForRound(plan, (uint)round);
            float[] global = model;
            TrainingResult[] results = new TrainingResult[regions];
            Parallel.For(0, regions, new ParallelOptions { MaxDegreeOfParallelism = regions }, r => results[r] = LocalTrainer.Train(global, shards[r], local));
            long total = results.Sum(r => (long)r.SampleCount);
            var delta = new float[model.Length];
            foreach (TrainingResult r in results)
            {
                float weight = (float)(r.SampleCount / (double)total);
                for (int i = 0; i < delta.Length; i++)
                {
                    delta[i] += weight * r.Delta[i];
                }
            }

            model = server.Step(model, delta);
            accuracy = ModelEvaluator.Evaluate(spec, model, test).Accuracy;
            seconds[round - 1] = Stopwatch.GetElapsedTime(started).TotalSeconds;
            progress.WriteLine(string.Create(CultureInfo.InvariantCulture, $"plain round {round}: accuracy {accuracy:F4} in {seconds[round - 1]:F1} s"));
        }

        return (accuracy, seconds);
    }

    private static ExampleSet Shard(byte[] pixels, byte[] labels, List<int> indices)
    {
        const int side = FashionMnist.Side * FashionMnist.Side;
        var shardLabels = new byte[indices.Count];
        var shardPixels = new byte[indices.Count * side];
        for (int i = 0; i < indices.Count; i++)
        {
            shardLabels[i] = labels[indices[i]];
            pixels.AsSpan(indices[i] * side, side).CopyTo(shardPixels.AsSpan(i * side));
        }

        return ExampleSet.Create(shardLabels, shardPixels, FashionMnist.Side, FashionMnist.Side);
    }

    // The confidential path: the demo, every party its own process, its rounds timed by the demo around each
    // RunRound call (attestation, key release, decryption, training, masking, unmasking, evaluation, manifest).
    private static async Task<(double Accuracy, double[] RoundSeconds, double? ManifestEpsilon)> ConfidentialAsync(TrainingPlan plan, int regions, int rounds, int? limit, Partition partition, TextWriter progress, CancellationToken cancellationToken)
    {
        using var work = new TempDirectory("enclave-bench-fl");
        string planPath = Path.Combine(work.Path, "plan.json");
        await File.WriteAllTextAsync(planPath, plan.ToJson().ToJsonString(), cancellationToken).ConfigureAwait(false);
        string json = Path.Combine(work.Path, "demo.json");
        string[] names = ["eu-west", "us-east", "ap-south", "sa-east", "af-south", "eu-north", "us-west", "ap-east"];
        List<string> arguments = ["demo", "--rounds", rounds.ToString(CultureInfo.InvariantCulture), "--regions", string.Join(',', names.Take(regions)),
            "--plan", planPath, "--partition", partition.ToString(), "--skip-forbidden", "--work-dir", Path.Combine(work.Path, "demo"), "--json", json];
        if (limit is { } l)
        {
            arguments.AddRange(["--samples-per-region", l.ToString(CultureInfo.InvariantCulture)]);
        }

        progress.WriteLine("confidential path: enclave demo (every party its own process)");
        CliResult result = await CliRunner.RunAsync(TimeSpan.FromHours(3), [.. arguments]).ConfigureAwait(false);
        if (result.ExitCode != 0)
        {
            throw new BenchException($"enclave demo exited {result.ExitCode}: {result.Error}");
        }

        JsonObject demo = JsonNode.Parse(await File.ReadAllTextAsync(json, cancellationToken).ConfigureAwait(false))!.AsObject();
        double[] seconds = [.. demo["rounds"]!.AsArray().Select(r => r!["seconds"]!.GetValue<double>())];
        foreach ((JsonNode? r, int i) in demo["rounds"]!.AsArray().Select((r, i) => (r, i)))
        {
            progress.WriteLine(string.Create(CultureInfo.InvariantCulture, $"confidential round {i + 1}: accuracy {r!["accuracy"]!.GetValue<double>():F4} in {seconds[i]:F1} s"));
        }

        // What the last round's signed manifest says each dataset has spent (the coordinator's accountant).
        string last = Path.Combine(work.Path, "demo", "aggregator", "manifests", $"round-{rounds:D4}.jws");
        double? manifestEpsilon = null;
        if (File.Exists(last))
        {
            JsonNode? manifest = JsonNode.Parse(Crypto.CompactJws.Parse((await File.ReadAllTextAsync(last, cancellationToken).ConfigureAwait(false)).Trim()).Payload);
            manifestEpsilon = manifest?["privacy"]?["epsilonThroughRound"]?.GetValue<double>();
        }

        return (demo["finalAccuracy"]!.GetValue<double>(), seconds, manifestEpsilon);
    }

    private static double Median(double[] values)
    {
        double[] sorted = [.. values.Order()];
        return sorted.Length % 2 == 1 ? sorted[sorted.Length / 2] : (sorted[(sorted.Length / 2) - 1] + sorted[sorted.Length / 2]) / 2;
    }
}
