using Microsoft.Extensions.Logging;

namespace Pyralog.Grains.Tests;

/// <summary>A logger that keeps every line at Information or above in <see cref="Lines"/>, for tests that assert on the log.</summary>
internal class LogRecorder : ILogger
{
    public List<(LogLevel Level, string Message)> Lines { get; } = [];

    public IDisposable? BeginScope<TState>(TState state)
        where TState : notnull => null;

    public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Information;

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        if (IsEnabled(logLevel))
        {
            Lines.Add((logLevel, formatter(state, exception)));
        }
    }
}
