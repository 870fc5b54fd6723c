using Pyralog.Cli.Logs;
using Pyralog.Grains.Interfaces.Logs;

namespace Pyralog.Cli.Tests;

/// <summary>Appends to a <see cref="FakeLogSession"/>: at the given partition, else by the key's first byte, else 0.</summary>
internal sealed class FakeRecordProducer(FakeLogSession session) : IRecordProducer
{
    public bool Flushed { get; private set; }

    public Task<RecordAddress> ProduceAsync(string log, int? partition, ProducerRecord record, CancellationToken cancellationToken)
    {
        session.Produced.Add((log, partition, record));
        if (session.FailAppend(System.Text.Encoding.UTF8.GetString(record.Value)) is { } failure)
        {
            return Task.FromException<RecordAddress>(failure);
        }

        var info = session.FindLogAsync(log).Result!;
        var target = partition ?? (record.Key is [var first, ..] ? first % info.Partitions : 0);
        return session.HoldAcks is { } hold
            ? hold.ContinueWith(_ => session.Append(log, target, record.Key, record.Value, record.Headers), TaskScheduler.Default)
            : Task.FromResult(session.Append(log, target, record.Key, record.Value, record.Headers));
    }

    public Task FlushAsync(CancellationToken cancellationToken)
    {
        Flushed = true;
        return Task.CompletedTask;
    }

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}
