// The `enclave` command: one verb per user of the product.
using System.CommandLine;
using Enclave.Cli.Commands;
using Enclave.Cli.Demo;

var root = new RootCommand("Confidential federated training: attested enclaves, key release, secure aggregation.");
root.Subcommands.Add(DemoCommand.Create());
root.Subcommands.Add(ServeCommands.Create());
root.Subcommands.Add(NodeCommands.Create());
root.Subcommands.Add(DataCommands.Create());
root.Subcommands.Add(KeyCommands.Create());
root.Subcommands.Add(ImageCommands.Create());
root.Subcommands.Add(PkiCommands.Create());
root.Subcommands.Add(MeasureCommand.Create());
root.Subcommands.Add(AuditCommands.Create());
root.Subcommands.Add(AttestCommands.Create());
root.Subcommands.Add(BenchCommands.Create());
return await root.Parse(args).InvokeAsync();
