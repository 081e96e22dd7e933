using System.CommandLine;

namespace Enclave.Cli.Commands;

/// <summary>`enclave bench ...`: benchmarks that print measured ratios side by side.</summary>
internal static class BenchCommands
{
    public static Command Create()
    {
        var command = new Command("bench", "Measure the cost of a component against its raw primitives, in one run.");
        command.Subcommands.Add(BenchSecAggCommand.Create());
        return command;
    }
}
