using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;

namespace Pyralog.Grains.Tests.Obelisk;

/// <summary>A logger provider that keeps every line at Information or above, for tests that assert on the log.</summary>
internal sealed class CapturedLogs : ILoggerProvider
{
    public static ConcurrentQueue<(LogLevel Level, string Category, string Message)> Lines { get; } = new();

    public ILogger CreateLogger(string categoryName) => new Logger(categoryName);

    public void Dispose()
    {
    }

    private sealed class Logger(string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Information;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (IsEnabled(logLevel))
            {
                Lines.Enqueue((logLevel, category, formatter(state, exception) + (exception is null ? "" : " " + exception.Message)));
            }
        }
    }
}
