using System.CommandLine;
using Enclave.Cli.Commands;

namespace Enclave.Cli.Demo;

internal static class DemoCommand
{
    public static Command Create()
    {
        var rounds = new Option<int>("--rounds") { Description = "federated rounds to run", DefaultValueFactory = _ => 3 };
        var regions = new Option<string>("--regions") { Description = "comma-separated regions, one host each", DefaultValueFactory = _ => "eu-west,us-east,ap-south" };
        Option<string?> json = RoundCommands.JsonOption();
        var work = new Option<string>("--work-dir") { Description = "working folder (recreated)", DefaultValueFactory = _ => ".demo" };
        var samples = new Option<int?>("--samples-per-region") { Description = "limit each region's shard (default: the whole disjoint shard)" };
        var plan = new Option<string>("--plan") { Description = "training plan JSON (docs/formats.md section 14) the demo's model owner signs; default: the 784-128-10 MLP with FedAvg" };
        var partition = new Option<string>("--partition") { Description = "how the regions split the data: iid, dirichlet:ALPHA (non-IID by class proportions) or shards:K (K label-sorted shards per region)", DefaultValueFactory = _ => "iid" };
        var skipForbidden = new Option<bool>("--skip-forbidden") { Description = "do not run the two forbidden key-release attempts" };
        var faults = new Option<string[]>("--fault") { AllowMultipleArgumentsPerToken = true, Description = "inject a fault: corrupt-chunk|truncate|missing-data|crash-after-share-keys:REGION (repeat)" };
        var disclose = new Option<bool>("--test-disclose-inputs") { Description = "test mode: simulated enclaves log their quantised inputs so the unmasked sum can be checked" };
        var command = new Command("demo", "Run a simulated confidential federation locally: verifier, broker, aggregator and one host per region.")
        {
            rounds, regions, json, work, samples, plan, partition, skipForbidden, faults, disclose,
        };
        command.SetAction((parse, cancellationToken) => CliErrors.RunAsync(async () =>
        {
            if (parse.GetValue(rounds) < 1)
            {
                throw new CliException("--rounds must be at least 1");
            }

            var options = new DemoOptions(
                parse.GetValue(rounds),
                parse.GetValue(regions)!.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries),
                parse.GetValue(json),
                parse.GetValue(work)!,
                parse.GetValue(samples),
                parse.GetValue(plan),
                parse.GetValue(skipForbidden),
                (parse.GetValue(faults) ?? []).Select(DemoFault.Parse).ToArray(),
                parse.GetValue(disclose),
                parse.GetResult(json) is not null,
                ParsePartition(parse.GetValue(partition)!));

            // With --json alone the JSON owns standard output; the progress goes to standard error.
            TextWriter progress = options.Json && options.JsonPath is null ? Console.Error : Console.Out;
            return await new DemoRunner(options, progress).RunAsync(cancellationToken).ConfigureAwait(false);
        }));
        return command;
    }

    private static Enclave.Aggregator.Data.Partition ParsePartition(string text)
    {
        try
        {
            return Enclave.Aggregator.Data.Partition.Parse(text);
        }
        catch (FormatException ex)
        {
            throw new CliException($"--partition: {ex.Message}");
        }
    }
}
