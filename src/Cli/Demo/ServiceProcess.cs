// A service started as its own `enclave serve <role>` process, as it would run on its own machine.
using System.Diagnostics;
using Enclave.Hosting;
using Enclave.Protocol;

namespace Enclave.Cli.Demo;

internal sealed class ServiceProcess : IAsyncDisposable
{
    private readonly Process _process;
    private readonly StreamWriter _log;
    private readonly string _readyFile;
    private ServiceReadyFile? _ready;

    private ServiceProcess(string name, Process process, StreamWriter log, string readyFile)
    {
        Name = name;
        _process = process;
        _log = log;
        _readyFile = readyFile;
    }

    public string Name { get; }

    public bool HasExited => _process.HasExited;

    public int Id => _process.Id;

    /// <summary>Where the service listens, once <see cref="WaitReadyAsync"/> has returned.</summary>
    public ServiceReadyFile Ready => _ready ?? throw new InvalidOperationException($"{Name} has not reported ready yet");

    /// <summary>Starts <c>enclave {arguments}</c>, which must listen on port 0: the service reports the ports the
    /// system gave it in a ready file, so no port is chosen here and then raced for.</summary>
    /// <param name="cliAssembly">The `enclave` assembly to run (default: this one).</param>
    public static ServiceProcess Start(string name, IReadOnlyList<string> arguments, string logDirectory, string? cliAssembly = null)
    {
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        start.ArgumentList.Add(cliAssembly ?? typeof(ServiceProcess).Assembly.Location);
        foreach (string argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        string readyFile = Path.Combine(logDirectory, name + ".ready.json");
        start.ArgumentList.Add("--ready-file");
        start.ArgumentList.Add(readyFile);
        Directory.CreateDirectory(logDirectory);
        File.Delete(readyFile);
        var log = new StreamWriter(Path.Combine(logDirectory, name + ".log"), append: true) { AutoFlush = true };
        Process process = Process.Start(start) ?? throw new InvalidOperationException($"could not start {name}");
        process.OutputDataReceived += (_, e) => Write(log, e.Data);
        process.ErrorDataReceived += (_, e) => Write(log, e.Data);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return new ServiceProcess(name, process, log, readyFile);
    }

    /// <summary>Waits until the service has written its ready file (it is serving) and returns where it listens.</summary>
    public async Task<ServiceReadyFile> WaitReadyAsync(TimeSpan timeout, CancellationToken cancellationToken)
    {
        DateTime deadline = DateTime.UtcNow + timeout;
        while (DateTime.UtcNow < deadline)
        {
            if (ServiceReadyFile.TryRead(_readyFile) is { } ready)
            {
                if (ready.ProcessId != _process.Id)
                {
                    throw new InvalidOperationException($"{_readyFile} was written by process {ready.ProcessId}, not by {Name} ({_process.Id})");
                }

                _ready = ready;
                return ready;
            }

            if (_process.HasExited)
            {
                throw new InvalidOperationException($"{Name} exited with code {_process.ExitCode} before it was ready");
            }

            await Task.Delay(50, cancellationToken).ConfigureAwait(false);
        }

        throw new TimeoutException($"{Name} did not report ready within {timeout.TotalSeconds:F0} s");
    }

    public void Kill()
    {
        try
        {
            _process.Kill(entireProcessTree: true);
        }
        catch (InvalidOperationException)
        {
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (!_process.HasExited)
        {
            Kill();
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            try
            {
                await _process.WaitForExitAsync(timeout.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
            }
        }

        _process.Dispose();
        await _log.DisposeAsync().ConfigureAwait(false);
    }

    private static void Write(StreamWriter log, string? line)
    {
        if (line is null)
        {
            return;
        }

        lock (log)
        {
            log.WriteLine(line);
        }
    }
}
