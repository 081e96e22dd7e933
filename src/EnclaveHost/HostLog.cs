using Microsoft.Extensions.Logging;

namespace Enclave.EnclaveHost;

internal static partial class HostLog
{
    [LoggerMessage(EventId = 1, Level = LogLevel.Information, Message = "[{Region}] enclave process {Pid} started from {Directory} (SIMULATED enclave)")]
    public static partial void EnclaveStarted(ILogger logger, string region, int pid, string directory);

    [LoggerMessage(EventId = 2, Level = LogLevel.Information, Message = "[{Region}] enclave measurement {Measurement} on simulated platform {PlatformId}")]
    public static partial void EnclaveConfigured(ILogger logger, string region, string measurement, string platformId);

    [LoggerMessage(EventId = 3, Level = LogLevel.Information, Message = "[{Region}] enclave {Level}: {Text}")]
    public static partial void EnclaveLine(ILogger logger, string region, string level, string text);

    [LoggerMessage(EventId = 4, Level = LogLevel.Warning, Message = "[{Region}] enclave stderr: {Text}")]
    public static partial void EnclaveStderr(ILogger logger, string region, string text);

    [LoggerMessage(EventId = 5, Level = LogLevel.Information, Message = "regional host for {Region} listening on {Address}")]
    public static partial void Listening(ILogger logger, string region, string address);
}
