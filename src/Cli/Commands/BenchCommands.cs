using System.CommandLine;

namespace Enclave.Cli.Commands;

/// <summary>`enclave bench ...`: benchmarks that print ratios measured side by side in one run.</summary>
internal static class BenchCommands
{
    public static Command Create() => new("bench", "Benchmarks (ratios measured side by side in one run).")
    {
        BenchVerifyCommand.Create(),
    };
}
