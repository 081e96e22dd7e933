using System.CommandLine;

namespace Enclave.Cli.Commands;

/// <summary>Benchmarks of running components, each measured against a baseline in the same run.</summary>
internal static class BenchCommands
{
    public static Command Create() => new("bench", "Measure a component's throughput and latency.")
    {
        BenchBrokerCommand.Create(),
    };
}
