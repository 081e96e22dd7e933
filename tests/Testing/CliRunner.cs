using System.Diagnostics;

namespace Enclave.Testing;

public sealed record CliResult(int ExitCode, string Output, string Error);

/// <summary>Runs the built `enclave` command as a separate process, as a user would.</summary>
public static class CliRunner
{
    public static async Task<CliResult> RunAsync(TimeSpan timeout, params string[] arguments)
    {
        if (!File.Exists(RepositoryPaths.CliAssembly))
        {
            throw new InvalidOperationException($"{RepositoryPaths.CliAssembly} is not built");
        }

        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(RepositoryPaths.CliAssembly);
        foreach (string argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        using Process process = Process.Start(start)!;
        Task<string> output = process.StandardOutput.ReadToEndAsync();
        Task<string> error = process.StandardError.ReadToEndAsync();
        using var cts = new CancellationTokenSource(timeout);
        try
        {
            await process.WaitForExitAsync(cts.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"enclave {string.Join(' ', arguments)} did not finish within {timeout}: {await output}");
        }

        return new CliResult(process.ExitCode, await output, await error);
    }
}
