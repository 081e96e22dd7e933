// The `enclave` command's tree, built in one place so that the program and the tests that check command lines
// (tests/Cli.Tests/DeployFilesTests.cs: every command line in deploy/) parse with the same parser.
using System.CommandLine;
using Enclave.Cli.Commands;
using Enclave.Cli.Demo;

namespace Enclave.Cli;

internal static class CliRoot
{
    public static RootCommand Create()
    {
        var root = new RootCommand("Confidential federated training: attested enclaves, key release, secure aggregation.");
        root.Subcommands.Add(DemoCommand.Create());
        root.Subcommands.Add(ServeCommands.Create());
        root.Subcommands.Add(NodeCommands.Create());
        root.Subcommands.Add(DataCommands.Create());
        root.Subcommands.Add(KeyCommands.Create());
        root.Subcommands.Add(ImageCommands.Create());
        root.Subcommands.Add(PlanCommands.Create());
        root.Subcommands.Add(PkiCommands.Create());
        root.Subcommands.Add(ProvisionCommands.Create());
        root.Subcommands.Add(RoundCommands.Create());
        root.Subcommands.Add(HealthCommand.Create());
        root.Subcommands.Add(MeasureCommand.Create());
        root.Subcommands.Add(AuditCommands.Create());
        root.Subcommands.Add(AttestCommands.Create());
        return root;
    }
}
