using System.CommandLine;
using Enclave.Cli.Demo;

namespace Enclave.Cli.Commands;

internal static class MeasureCommand
{
    public static Command Create()
    {
        var directory = new Option<string>("--enclave-dir") { Description = "folder of the enclave build (default: the enclave-app/ folder beside this program)" };
        var command = new Command("measure", "Print the measurement of a simulated enclave build (the value release policies allow).") { directory };
        command.SetAction(parse => CliErrors.RunAsync(() =>
        {
            string dir = parse.GetValue(directory) ?? DemoPaths.DefaultEnclaveDirectory;
            Console.WriteLine(EnclaveMeasurement.Compute(dir));
            return Task.FromResult(0);
        }));
        return command;
    }
}
