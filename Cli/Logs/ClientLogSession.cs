using System.Runtime.CompilerServices;
using Pyralog.Client;
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

    public IRecordProducer CreateProducer() => throw new NotSupportedException("producing needs the client's LogProducer");

    public async IAsyncEnumerable<LogRecord> ConsumeAsync(string log, int partition, ConsumeStart from, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        await Task.Yield();
        throw new NotSupportedException("consuming needs the client's LogConsumer");
#pragma warning disable CS0162 // an iterator needs a yield
        yield break;
#pragma warning restore CS0162
    }

    public ValueTask DisposeAsync() => client.DisposeAsync();
}
