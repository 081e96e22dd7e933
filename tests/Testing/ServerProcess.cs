using System.Diagnostics;
using System.Text;
using Enclave.Hosting;
using Enclave.Protocol;
using Xunit;

namespace Enclave.Testing;

/// <summary>A long-running `enclave serve ...` process for a test, stopped on dispose.</summary>
public sealed class ServerProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StringBuilder _output = new();

    private ServerProcess(Process process)
    {
        _process = process;
        _process.OutputDataReceived += (_, e) => Append(e.Data);
        _process.ErrorDataReceived += (_, e) => Append(e.Data);
        _process.BeginOutputReadLine();
        _process.BeginErrorReadLine();
    }

    public string Output
    {
        get
        {
            lock (_output)
            {
                return _output.ToString();
            }
        }
    }

    /// <summary>The output once it contains <paramref name="text"/>, or as it stands after <paramref name="timeout"/>:
    /// the ready file can be read before the line printed with it has come through the pipe.</summary>
    public async Task<string> OutputContainingAsync(string text, TimeSpan timeout)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        string output = Output;
        while (!output.Contains(text, StringComparison.Ordinal) && clock.Elapsed < timeout)
        {
            await Task.Delay(20);
            output = Output;
        }

        return output;
    }

    public bool HasExited => _process.HasExited;

    /// <summary>Where the service listens (from the ready file it wrote once serving).</summary>
    public ServiceReadyFile Ready { get; private set; } = null!;

    /// <summary>Starts <c>enclave {arguments}</c> with its ports left to the system (the service's default of 0)
    /// and waits for the ready file in which it names them. A test that gives no TLS identity (no
    /// <c>--tls-cert</c>, no <c>--dev-cleartext</c>) is testing something other than transport, and runs the
    /// service in development cleartext on loopback; TLS tests pass their certificates.</summary>
    public static async Task<ServerProcess> StartAsync(params string[] arguments)
    {
        string readyFile = Path.Combine(Path.GetTempPath(), $"enclave-ready-{Guid.NewGuid():N}.json");
        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add(RepositoryPaths.CliAssembly);
        foreach (string argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        if (!arguments.Contains("--tls-cert") && !arguments.Contains("--dev-cleartext") && arguments.FirstOrDefault() == "serve")
        {
            start.ArgumentList.Add("--dev-cleartext");
        }

        start.ArgumentList.Add("--ready-file");
        start.ArgumentList.Add(readyFile);
        var server = new ServerProcess(Process.Start(start)!);
        try
        {
            DateTime deadline = DateTime.UtcNow.AddSeconds(60);
            while (DateTime.UtcNow < deadline)
            {
                if (ServiceReadyFile.TryRead(readyFile) is { } ready)
                {
                    Assert.Equal(server._process.Id, ready.ProcessId);
                    server.Ready = ready;
                    return server;
                }

                if (server._process.HasExited)
                {
                    throw new InvalidOperationException($"server exited with {server._process.ExitCode}: {server.Output}");
                }

                await Task.Delay(50);
            }

            throw new TimeoutException($"server did not report ready: {server.Output}");
        }
        catch
        {
            await server.DisposeAsync();
            throw;
        }
        finally
        {
            File.Delete(readyFile);
        }
    }

    /// <summary>Kills the process at once (SIGKILL on Unix: no shutdown, nothing flushed) and waits for it.</summary>
    public async Task KillAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            _process.Kill(entireProcessTree: true);
            await _process.WaitForExitAsync();
        }

        _process.Dispose();
    }

    private void Append(string? line)
    {
        if (line is not null)
        {
            lock (_output)
            {
                _output.AppendLine(line);
            }
        }
    }
}
