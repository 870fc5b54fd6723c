using Microsoft.Extensions.Logging;

namespace Pyralog.Grains.Replication;

/// <summary>
/// A replica's logger: every entry it writes carries the replica's log, partition, slot and current epoch (its Raft
/// term) as a scope, so JSON logs (<c>Silo:JsonLogs</c>) can be filtered by them. The scope is opened per entry:
/// replicas log rarely (leadership changes, moves), and a scope held across grain turns would leak into other grains'.
/// </summary>
internal sealed class ReplicaLogger(ILogger inner, Func<ReplicaGrainKeyScope?> scope) : ILogger
{
    public IDisposable? BeginScope<TState>(TState state)
        where TState : notnull => inner.BeginScope(state);

    public bool IsEnabled(LogLevel logLevel) => inner.IsEnabled(logLevel);

    public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
    {
        if (!inner.IsEnabled(logLevel))
        {
            return;
        }

        using (scope() is { } replica ? inner.BeginScope(replica) : null)
        {
            inner.Log(logLevel, eventId, state, exception, formatter);
        }
    }
}
