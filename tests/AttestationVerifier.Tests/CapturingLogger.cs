using Microsoft.Extensions.Logging;

namespace Enclave.AttestationVerifier.Tests;

internal sealed class CapturingLogger : ILogger
{
    private readonly List<(EventId EventId, LogLevel Level, string Message)> _lines = [];

    public IReadOnlyList<(EventId EventId, LogLevel Level, string Message)> Lines
    {
        get
        {
            lock (_lines)
            {
                return [.. _lines];
            }
        }
    }

    public IDisposable? BeginScope<TState>(TState state)
        where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => true;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        lock (_lines)
        {
            _lines.Add((eventId, logLevel, formatter(state, exception)));
        }
    }
}
