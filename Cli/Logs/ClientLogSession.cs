using System.Runtime.CompilerServices;
using Pyralog.Client;
using Pyralog.Client.Logs;
using Pyralog.Grains.Interfaces.Logs;

namespace Pyralog.Cli.Logs;

/// <summary>The log commands over a <see cref="PyralogClient"/>.</summary>
internal sealed class ClientLogSession(PyralogClient client) : ILogSession
{
    public static async Task<ILogSession> ConnectAsync(PyralogClientOptions options, CancellationToken cancellationToken) =>
        new ClientLogSession(await PyralogClient.ConnectAsync(options, cancellationToken));

    private IPyralogAdminGrain Admin => client.Cluster.GetGrain<IPyralogAdminGrain>(0);

    public Task<LogInfo> CreateLogAsync(string name, int partitions, int replicationFactor, LogSettings settings) =>
        Admin.CreateLogAsync(name, partitions, replicationFactor, settings);

    public Task DeleteLogAsync(string name) => Admin.DeleteLogAsync(name);

    public Task<LogInfo[]> ListLogsAsync() => Admin.ListLogsAsync();

    public Task<LogInfo?> FindLogAsync(string name) => Admin.GetLogAsync(name);

    public Task<LogDescription> DescribeLogAsync(string name) => Admin.DescribeLogAsync(name);

    public async Task<ulong> FindOffsetAsync(LogInfo log, int partition, DateTimeOffset time)
    {
        // Any replica answers from what it has applied; the first that answers will do.
        for (var replica = 0; ; replica++)
        {
            try
            {
                return await client.Cluster.GetGrain<IPartitionReplicaGrain>(log.ReplicaKey(partition, replica)).FindOffsetAsync(time);
            }
            catch (Exception) when (replica + 1 < log.ReplicationFactor)
            {
            }
        }
    }

    public IRecordProducer CreateProducer() => new ClientRecordProducer(new LogProducer(client.Cluster));

    /// <summary>
    /// A stand-in for the client's <c>LogConsumer</c> until it lands: long polls one replica after the other, moving on
    /// when one fails, for up to 30 s without progress.
    /// </summary>
    public async IAsyncEnumerable<LogRecord> ConsumeAsync(string log, int partition, ConsumeStart from, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var info = await FindLogAsync(log) ?? throw new InvalidOperationException($"no log is named '{log}'");
        var replica = 0;
        var lastProgress = DateTime.UtcNow;
        ulong? next = from.Kind == ConsumeStartKind.Offset ? from.Offset : null;
        while (true)
        {
            var grain = client.Cluster.GetGrain<IPartitionReplicaGrain>(info.ReplicaKey(partition, replica));
            ReadBatch batch;
            try
            {
                if (next is null)
                {
                    var status = await grain.GetStatusAsync().WaitAsync(cancellationToken);
                    next = from.Kind == ConsumeStartKind.Latest ? status.NextOffset : status.FirstOffset;
                }

                batch = await grain.PollAsync(next.Value, 1 << 20, TimeSpan.FromSeconds(10)).WaitAsync(cancellationToken);
                lastProgress = DateTime.UtcNow;
            }
            catch (Exception e) when (e is not OperationCanceledException && DateTime.UtcNow - lastProgress < TimeSpan.FromSeconds(30))
            {
                replica = (replica + 1) % info.ReplicationFactor;
                await Task.Delay(TimeSpan.FromMilliseconds(100), cancellationToken);
                continue;
            }

            foreach (var record in batch.Records)
            {
                yield return new LogRecord(log, partition, record.Epoch, record.Offset, record.Id, record.Key, record.Value, record.Headers, record.AppendTime);
            }

            next = batch.NextOffset;
        }
    }

    public ValueTask DisposeAsync() => client.DisposeAsync();
}
