using Microsoft.Extensions.Logging;

namespace Enclave.Aggregator;

internal static partial class CoordinatorLog
{
    [LoggerMessage(EventId = 1, Level = LogLevel.Information, Message = "round {Round} ({RoundId}) started with {Hosts} regional hosts")]
    public static partial void RoundStarted(ILogger logger, uint round, string roundId, int hosts);

    [LoggerMessage(EventId = 2, Level = LogLevel.Information, Message = "round {Round} completed: accuracy {Accuracy:F4}, {Participants} participants, {Failures} failures")]
    public static partial void RoundCompleted(ILogger logger, uint round, double accuracy, int participants, int failures);

    [LoggerMessage(EventId = 3, Level = LogLevel.Warning, Message = "round {Round}: region {Region} failed at {Stage}: {Code} {Message}")]
    public static partial void RegionFailed(ILogger logger, uint round, string region, string stage, string code, string message);

    [LoggerMessage(EventId = 4, Level = LogLevel.Warning, Message = "round {Round} aborted: {Reason}")]
    public static partial void RoundAborted(ILogger logger, uint round, string reason);
}
