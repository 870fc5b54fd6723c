using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Pyralog.Grains.Replication;

namespace Pyralog.Grains.Tests.Replication;

/// <summary>
/// Keeps the warnings every silo's <see cref="ReplicaMover"/> logs, rendered, in <see cref="Lines"/>. Static: only
/// <see cref="RacingMoveRemovalTests"/>' silos add this provider (its tests run one at a time, each clearing it first).
/// </summary>
internal sealed class MoverWarnings : ILoggerProvider
{
    private static readonly ConcurrentQueue<string> s_lines = new();

    public static IReadOnlyCollection<string> Lines => s_lines;

    public static void Clear() => s_lines.Clear();

    public ILogger CreateLogger(string categoryName) =>
        categoryName == typeof(ReplicaMover).FullName ? new Recorder() : NullLogger.Instance;

    public void Dispose()
    {
    }

    private sealed class Recorder : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Warning;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (IsEnabled(logLevel))
            {
                s_lines.Enqueue(formatter(state, exception));
            }
        }
    }
}
