using System.CommandLine;

namespace Enclave.Cli.Commands;

/// <summary>`enclave bench ...`: benchmarks that print ratios measured side by side in one run.</summary>
internal static class BenchCommands
{
    public static Command Create()
    {
        var command = new Command("bench", "Measure the cost of a component against its raw primitives, in one run.");
        command.Subcommands.Add(BenchVerifyCommand.Create());
        command.Subcommands.Add(BenchBrokerCommand.Create());
        command.Subcommands.Add(BenchSecAggCommand.Create());
        return command;
    }
}
