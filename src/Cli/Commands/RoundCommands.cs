// `enclave round run | status`: what an operator uses to drive the coordinator. `run` asks it for N rounds one
// after another, printing each round's stages while it runs (from the coordinator's Status) and its outcome;
// `status` prints where the coordinator stands. Both speak mutual TLS with the coordinator.
using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Enclave.Hosting;
using Enclave.Protocol.Coordinator;
using Grpc.Core;
using Grpc.Net.Client;

namespace Enclave.Cli.Commands;

internal static class RoundCommands
{
    public static Command Create()
    {
        var aggregator = new Option<string>("--aggregator") { Required = true, Description = "the coordinator's gRPC URL" };
        var rounds = new Option<int>("--rounds") { Description = "rounds to run, one after another", DefaultValueFactory = _ => 1 };
        Option<string?> json = JsonOption();
        var run = new Command("run", "Run federated rounds on the coordinator and report each.") { aggregator, rounds, json };
        var runTls = new ClientTls();
        runTls.AddTo(run);
        run.SetAction((parse, cancellationToken) => CliErrors.RunAsync(async () =>
        {
            int count = parse.GetValue(rounds);
            if (count is < 1 or > 10_000)
            {
                throw new CliException($"--rounds must be 1 to 10000, got {count}");
            }

            using TlsSettings? tls = runTls.Resolve(parse);
            bool jsonOut = parse.GetResult(json) is not null;
            TextWriter progress = jsonOut && parse.GetValue(json) is null ? Console.Error : Console.Out;
            List<RoundSummary> summaries = await RunAsync(CliErrors.ParseUri(parse.GetValue(aggregator)!, "--aggregator"), tls, count, progress, cancellationToken).ConfigureAwait(false);
            if (jsonOut)
            {
                WriteJson(parse.GetValue(json), Summary(summaries));
            }

            return summaries.Count > 0 && summaries[^1].Completed ? 0 : 1;
        }));

        var statusAggregator = new Option<string>("--aggregator") { Required = true, Description = "the coordinator's gRPC URL" };
        Option<string?> statusJson = JsonOption();
        var status = new Command("status", "Print where the coordinator stands: rounds done, the model, a round under way.") { statusAggregator, statusJson };
        var statusTls = new ClientTls();
        statusTls.AddTo(status);
        status.SetAction((parse, cancellationToken) => CliErrors.RunAsync(async () =>
        {
            using TlsSettings? tls = statusTls.Resolve(parse);
            using GrpcChannel channel = CliChannel.Create(CliErrors.ParseUri(parse.GetValue(statusAggregator)!, "--aggregator"), tls);
            CoordinatorStatus current = await Call(() => new Coordinator.CoordinatorClient(channel).StatusAsync(new StatusRequest(), cancellationToken: cancellationToken).ResponseAsync).ConfigureAwait(false);
            if (parse.GetResult(statusJson) is not null)
            {
                WriteJson(parse.GetValue(statusJson), new JsonObject
                {
                    ["round"] = current.Round,
                    ["modelSha256"] = current.ModelSha256,
                    ["running"] = current.Running,
                    ["runningRound"] = current.Running ? current.RunningRound : null,
                    ["stage"] = current.Running ? current.Stage : null,
                    ["regions"] = new JsonArray([.. current.Regions.Select(r => (JsonNode)r)]),
                    ["last"] = current.Last is null ? null : RoundJson(current.Last),
                });
            }
            else
            {
                Console.WriteLine($"rounds completed: {current.Round}; model {current.ModelSha256[..16]}…; regions {string.Join(", ", current.Regions)}");
                Console.WriteLine(current.Running ? $"round {current.RunningRound} under way: {current.Stage}" : "no round under way");
                if (current.Last is { } last)
                {
                    Console.WriteLine($"last round {last.Round}: {Outcome(last)}");
                }
            }

            return 0;
        }));
        return new Command("round", "Drive the coordinator: run rounds, show its status.") { run, status };
    }

    /// <summary>`--json` alone prints JSON on standard output; `--json PATH` writes it to PATH.</summary>
    public static Option<string?> JsonOption() => new("--json")
    {
        Description = "print the result as JSON on standard output, or with a PATH write it there",
        Arity = ArgumentArity.ZeroOrOne,
    };

    /// <summary>Runs <paramref name="count"/> rounds, writing each stage and outcome to <paramref name="progress"/>.</summary>
    public static async Task<List<RoundSummary>> RunAsync(Uri aggregator, TlsSettings? tls, int count, TextWriter progress, CancellationToken cancellationToken)
    {
        using GrpcChannel channel = CliChannel.Create(aggregator, tls);
        var client = new Coordinator.CoordinatorClient(channel);
        var summaries = new List<RoundSummary>();
        for (int i = 0; i < count; i++)
        {
            Task<RoundSummary> running = Call(() => client.RunRoundAsync(new RunRoundRequest(), cancellationToken: cancellationToken).ResponseAsync);
            string shown = string.Empty;
            while (await Task.WhenAny(running, Task.Delay(250, cancellationToken)).ConfigureAwait(false) != running)
            {
                CoordinatorStatus status;
                try
                {
                    status = await client.StatusAsync(new StatusRequest(), cancellationToken: cancellationToken).ConfigureAwait(false);
                }
                catch (RpcException)
                {
                    continue;
                }

                if (status.Running && status.Stage != shown)
                {
                    shown = status.Stage;
                    progress.WriteLine($"round {status.RunningRound}: {shown}…");
                }
            }

            RoundSummary summary = await running.ConfigureAwait(false);
            summaries.Add(summary);
            progress.WriteLine($"round {summary.Round}: {Outcome(summary)}");
            foreach (RegionFailure f in summary.Failures)
            {
                progress.WriteLine($"    {f.Region} failed at {f.Stage}: {f.Code} {f.Message}");
            }
        }

        return summaries;
    }

    public static JsonObject RoundJson(RoundSummary r)
    {
        var participants = new JsonArray();
        foreach (ParticipantSummary p in r.Participants)
        {
            participants.Add(new JsonObject { ["region"] = p.Region, ["measurement"] = p.Measurement, ["tokenId"] = p.TokenId, ["sampleCount"] = p.SampleCount, ["datasetId"] = p.DatasetId, ["keyId"] = p.KeyId });
        }

        var failures = new JsonArray();
        foreach (RegionFailure f in r.Failures)
        {
            failures.Add(new JsonObject { ["region"] = f.Region, ["stage"] = f.Stage, ["code"] = f.Code, ["message"] = f.Message });
        }

        return new JsonObject
        {
            ["round"] = r.Round,
            ["roundId"] = r.RoundId,
            ["accuracy"] = r.Completed ? r.Accuracy : null,
            ["completed"] = r.Completed,
            ["participants"] = participants,
            ["failures"] = failures,
            ["modelSha256"] = r.ModelSha256,
            ["manifestSha256"] = r.ManifestSha256,
            ["aggregateSha256"] = r.AggregateSha256,
            ["specificationSha256"] = r.SpecificationSha256,
        };
    }

    /// <summary>Writes JSON to standard output (<paramref name="path"/> null) or to a file.</summary>
    public static void WriteJson(string? path, JsonNode document)
    {
        string text = document.ToJsonString(new JsonSerializerOptions { WriteIndented = true });
        if (path is null)
        {
            Console.WriteLine(text);
            return;
        }

        WriteFileAtomically(path, text + "\n", "--json");
    }

    /// <summary>Writes <paramref name="text"/> to a temporary file beside <paramref name="path"/> and renames it into
    /// place, so a reader never sees half a file; a failure names <paramref name="option"/> and leaves nothing behind.</summary>
    /// <exception cref="CliException">The file cannot be written.</exception>
    public static void WriteFileAtomically(string path, string text, string option)
    {
        string full = Path.GetFullPath(path);
        string temporary = full + ".tmp";
        try
        {
            File.WriteAllText(temporary, text);
            File.Move(temporary, full, overwrite: true);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            if (File.Exists(temporary))
            {
                File.Delete(temporary);
            }

            throw new CliException($"{option} {path}: {ex.Message}");
        }
    }

    private static JsonObject Summary(List<RoundSummary> summaries)
    {
        RoundSummary? last = summaries.LastOrDefault(s => s.Completed);
        return new JsonObject
        {
            ["rounds"] = new JsonArray([.. summaries.Select(s => (JsonNode)RoundJson(s))]),
            ["finalAccuracy"] = last?.Accuracy,
        };
    }

    private static string Outcome(RoundSummary r) => r.Completed
        ? $"accuracy {r.Accuracy.ToString("F4", CultureInfo.InvariantCulture)} with {string.Join(", ", r.Participants.Select(p => p.Region))}"
        : "did not complete; the model is unchanged";

    private static async Task<T> Call<T>(Func<Task<T>> call)
    {
        try
        {
            return await call().ConfigureAwait(false);
        }
        catch (RpcException ex)
        {
            throw new CliException($"the coordinator did not answer ({CliChannel.Describe(ex)})");
        }
    }
}
