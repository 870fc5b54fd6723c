using Microsoft.Extensions.Logging;
using Pyralog.Grains.Replication;

namespace Pyralog.Grains.Tests.Replication;

public sealed class ReplicaLoggerTests
{
    [Fact]
    public void Each_entry_is_scoped_with_the_replicas_log_partition_slot_and_current_epoch()
    {
        var recorder = new RecordingLogger();
        var epoch = 3L;
        var logger = new ReplicaLogger(recorder, () => new ReplicaGrainKeyScope(7, 2, 1, epoch));
        logger.LogInformation("leads");
        epoch = 4;
        logger.LogInformation("leads again");

        Assert.Equal(["leads", "leads again"], recorder.Entries.Select(e => e.Message));
        Assert.Equal(
            [("pyralog.log.id", (object)7UL), ("pyralog.partition", 2), ("pyralog.replica", 1), ("pyralog.epoch", 3L)],
            recorder.Entries[0].Scope.Select(p => (p.Key, p.Value)));
        Assert.Equal(4L, recorder.Entries[1].Scope.Single(p => p.Key == "pyralog.epoch").Value);
        Assert.Equal("replica 7/2/1 epoch 4", new ReplicaGrainKeyScope(7, 2, 1, 4).ToString());
        Assert.Equal(0, recorder.OpenScopes); // closed after each entry
    }

    [Fact]
    public void Before_the_replica_knows_its_key_entries_carry_no_scope()
    {
        var recorder = new RecordingLogger();
        new ReplicaLogger(recorder, () => null).LogWarning("activating");
        Assert.Empty(recorder.Entries.Single().Scope);
    }

    private sealed class RecordingLogger : ILogger
    {
        private readonly Stack<KeyValuePair<string, object>[]> _scopes = new();

        public List<(string Message, KeyValuePair<string, object>[] Scope)> Entries { get; } = [];

        public int OpenScopes => _scopes.Count;

        public IDisposable BeginScope<TState>(TState state)
            where TState : notnull
        {
            _scopes.Push([.. (IEnumerable<KeyValuePair<string, object>>)state]);
            return new Closing(_scopes);
        }

        public bool IsEnabled(LogLevel logLevel) => true;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            Entries.Add((formatter(state, exception), _scopes.Count > 0 ? _scopes.Peek() : []));

        private sealed class Closing(Stack<KeyValuePair<string, object>[]> scopes) : IDisposable
        {
            public void Dispose() => scopes.Pop();
        }
    }
}
