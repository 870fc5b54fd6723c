using System.Runtime.CompilerServices;
using Pyralog.Client;
using Pyralog.Client.Logs;
using Pyralog.Grains.Interfaces.Logs;

namespace Pyralog.Cli.Logs;

/// <summary>The log commands over a <see cref="PyralogClient"/>: its admin calls, its producer and its consumer.</summary>
internal sealed class ClientLogSession(PyralogClient client) : ILogSession
{
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

    public async Task<ulong> FindOffsetAsync(LogInfo log, int partition, DateTimeOffset time)
    {
        // Any replica answers from what it has applied; the first that answers will do.
        var slots = log.ReplicaSlots(partition);
        for (var i = 0; ; i++)
        {
            try
            {
                return await client.Cluster.GetGrain<IPartitionReplicaGrain>(log.ReplicaKey(partition, slots[i])).FindOffsetAsync(time);
            }
            catch (Exception) when (i + 1 < slots.Length)
            {
            }
        }
    }

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
