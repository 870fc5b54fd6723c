using System.Runtime.CompilerServices;
using Pyralog.Client;
using Pyralog.Client.Logs;
using Pyralog.Grains.Interfaces.Logs;

namespace Pyralog.Cli.Logs;

/// <summary>The log commands over a <see cref="PyralogClient"/>: its admin calls, its producer and its consumer.</summary>
internal sealed class ClientLogSession(PyralogClient client) : ILogSession
{
    private static readonly TimeSpan RequestTimeout = new ConsumerOptions().RequestTimeout;

    private readonly Lazy<LogConsumer> _consumer = new(() => client.CreateConsumer());

    public static async Task<ILogSession> ConnectAsync(PyralogClientOptions options, CancellationToken cancellationToken) =>
        new ClientLogSession(await PyralogClient.ConnectAsync(options, cancellationToken));

    public Task<LogInfo> CreateLogAsync(string name, int partitions, int replicationFactor, LogSettings settings) =>
        client.CreateLogAsync(name, partitions, replicationFactor, settings);

    public Task DeleteLogAsync(string name) => client.DeleteLogAsync(name);

    public Task<LogInfo[]> ListLogsAsync() => client.ListLogsAsync();

    /// <summary>The admin grain's lookup (the client has none): null for an unknown log, where describe would throw.</summary>
    public Task<LogInfo?> FindLogAsync(string name) => client.Cluster.GetGrain<IPyralogAdminGrain>(0).GetLogAsync(name);

    public Task<LogDescription> DescribeLogAsync(string name) => client.DescribeLogAsync(name);

    public Task<ulong> FindOffsetAsync(LogInfo log, int partition, DateTimeOffset time, CancellationToken cancellationToken) =>
        ReplicaAnswers.FurthestAsync(Ask(log, partition, r => r.FindOffsetAsync(time), cancellationToken), static offset => offset);

    public Task<PartitionBounds> ReadBoundsAsync(LogInfo log, int partition, CancellationToken cancellationToken) =>
        ReplicaAnswers.FurthestAsync(Ask(log, partition, ReadBoundsAsync, cancellationToken), static bounds => bounds.End);

    /// <summary>
    /// A linearizable read where the replica has applied to (never below its first retained offset nor beyond its end):
    /// only the leader answers it, after confirming it still leads, from a state that holds every commit made before.
    /// </summary>
    private static async Task<PartitionBounds> ReadBoundsAsync(IPartitionReplicaGrain replica)
    {
        var applied = (await replica.GetStatusAsync()).NextOffset;
        var read = await replica.ReadAsync(applied, 1, linearizable: true);
        return new PartitionBounds(read.FirstOffset, read.CommittedNext);
    }

    /// <summary>Asks every replica of the partition at once, each for at most the consumer's request timeout.</summary>
    private Task<T>[] Ask<T>(LogInfo log, int partition, Func<IPartitionReplicaGrain, Task<T>> ask, CancellationToken cancellationToken) =>
        [.. log.ReplicaSlots(partition).Select(slot =>
            ask(client.Cluster.GetGrain<IPartitionReplicaGrain>(log.ReplicaKey(partition, slot))).WaitAsync(RequestTimeout, cancellationToken))];

    public IRecordProducer CreateProducer() => new ClientRecordProducer(client.CreateProducer());

    public async IAsyncEnumerable<ConsumedRecord> ConsumeAsync(string log, int partition, ConsumeStart from, ulong? end, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var start = from.Kind switch
        {
            ConsumeStartKind.Latest => ConsumeFrom.Latest,
            ConsumeStartKind.Offset => ConsumeFrom.Offset(from.Offset),
            ConsumeStartKind.Time => ConsumeFrom.Time(from.Time),
            _ => ConsumeFrom.Earliest,
        };
        await foreach (var record in _consumer.Value.ConsumeAsync(log, partition, start, end ?? ulong.MaxValue, cancellationToken))
        {
            yield return record;
        }
    }

    public ValueTask DisposeAsync() => client.DisposeAsync();
}
