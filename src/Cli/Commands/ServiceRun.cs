// Runs a built service until it is told to stop, and tells whoever started it where it listens: one log line and,
// when asked, a ready file written once the service accepts requests (removed again at a clean shutdown).
using System.CommandLine;
using Enclave.Hosting;
using Enclave.Protocol;
using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace Enclave.Cli.Commands;

internal static partial class ServiceRun
{
    public static Option<string> ReadyFileOption() => new("--ready-file")
    {
        Description = "once serving, write {\"service\",\"pid\",\"grpc\",\"http\"} here as JSON (atomically); with port 0 this is how a supervisor learns the ports",
    };

    public static Option<int> PortOption(string name, string description) => new(name)
    {
        Description = $"{description} (0, the default: a free port chosen by the system, logged and written to --ready-file)",
        DefaultValueFactory = _ => 0,
    };

    /// <summary>Binds <paramref name="address"/>:<paramref name="port"/>, turning a port that cannot be bound into
    /// a usage error that names it.</summary>
    public static ServiceListener Bind(string address, int port, string option, bool secure)
    {
        try
        {
            return ServiceListener.Bind(address, port, secure);
        }
        catch (PortUnavailableException ex)
        {
            throw new CliException($"{option} {port}: {ex.Message}");
        }
        catch (ArgumentException ex)
        {
            throw new CliException($"{option} {port}: {ex.Message}");
        }
    }

    /// <summary>Builds the application, turning a port that cannot be bound into a usage error.</summary>
    public static WebApplication Build(Func<WebApplication> build)
    {
        try
        {
            return build();
        }
        catch (PortUnavailableException ex)
        {
            throw new CliException(ex.Message);
        }
        catch (TlsConfigurationException ex)
        {
            throw new CliException(ex.Message);
        }
    }

    public static async Task<int> RunAsync(WebApplication app, string service, string? readyFile, CancellationToken cancellationToken)
    {
        if (readyFile is not null && !Directory.Exists(Path.GetDirectoryName(Path.GetFullPath(readyFile))))
        {
            throw new CliException($"--ready-file {readyFile}: its folder does not exist");
        }

        app.MapServiceObservability();
        await app.StartAsync(cancellationToken).ConfigureAwait(false);
        ServiceEndpoints endpoints = app.Services.GetRequiredService<ServiceEndpoints>();
        ILogger logger = app.Services.GetRequiredService<ILoggerFactory>().CreateLogger("Enclave.Service");
        Listening(logger, service, endpoints.Grpc.Url, endpoints.Http?.Url.ToString() ?? "none");
        if (readyFile is not null)
        {
            new ServiceReadyFile(service, Environment.ProcessId, endpoints.Grpc.Url, endpoints.Http?.Url).Write(readyFile);
        }

        try
        {
            await app.WaitForShutdownAsync(cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            if (readyFile is not null)
            {
                File.Delete(readyFile);
            }
        }

        return 0;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "{Service} serving: gRPC {Grpc}, HTTP {Http}")]
    private static partial void Listening(ILogger logger, string service, Uri grpc, string http);
}
