using System.CommandLine;

namespace Enclave.Cli.Commands;

internal static class ServeCommands
{
    public static Command Create() =>
        new("serve", "Run one service, as it would run on its own machine.")
        {
            ServeVerifier.Create(),
            ServeBroker.Create(),
            ServeHost.Create(),
            ServeAggregator.Create(),
        };
}
