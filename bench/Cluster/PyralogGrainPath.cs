using Pyralog.Grains.Interfaces.Logs;

namespace Pyralog.Bench.Cluster;

/// <summary>
/// Pyralog through the grain interfaces: an idempotent batching producer of the bench's own
/// (<see cref="PyralogBatchingProducer"/> over <see cref="IPartitionReplicaGrain.ProduceAsync"/>, no linger, up to 4
/// batches of up to 1,000 records in flight) and reads of about <see cref="ClusterSettings.ReadPage"/> records at the
/// leader (<see cref="IPartitionReplicaGrain.ReadAsync"/>).
/// </summary>
internal sealed class PyralogGrainPath : IPyralogPath
{
    private readonly IGrainFactory _grains;
    private readonly LogInfo _log;
    private readonly int _leader;
    private readonly PyralogBatchingProducer _producer;

    public PyralogGrainPath(IGrainFactory grains, LogInfo log, int leader)
    {
        _grains = grains;
        _log = log;
        _leader = leader;
        _producer = new PyralogBatchingProducer(new PyralogPartitionWriter(grains, log, 0, leader), TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(30));
    }

    public string Description => "the grain interfaces (the bench's own idempotent batching producer, IPartitionReplicaGrain.ProduceAsync/ReadAsync)";

    public Task ProduceAsync(ProducerRecord record) => _producer.ProduceAsync(record);

    public async Task<(long Records, long Bytes)> ConsumeAsync(long expected, TimeSpan budget, CancellationToken cancellationToken)
    {
        var replica = _grains.GetGrain<IPartitionReplicaGrain>(_log.ReplicaKey(0, _leader));
        var maxBytes = ClusterSettings.ReadPage * new ProducerRecord(null, new byte[ClusterSettings.RecordBytes]).EncodedBytes;
        long records = 0, bytes = 0;
        ulong? next = null;
        var watch = System.Diagnostics.Stopwatch.StartNew();
        while (records < expected && watch.Elapsed < budget)
        {
            next ??= (await replica.GetStatusAsync().WaitAsync(TimeSpan.FromSeconds(10), cancellationToken)).FirstOffset;
            var batch = await replica.ReadAsync(next.Value, maxBytes).WaitAsync(TimeSpan.FromSeconds(30), cancellationToken);
            if (batch.Records.Length == 0)
            {
                break;
            }

            records += batch.Records.Length;
            foreach (var r in batch.Records)
            {
                bytes += r.Value.Length;
            }

            next = batch.NextOffset;
        }

        return (records, bytes);
    }

    public Func<Task<bool>> FailoverProducer(int partition, int leaderGuess, byte[] payload)
    {
        var writer = new PyralogPartitionWriter(_grains, _log, partition, leaderGuess);
        long sequence = 0;
        ProducerBatch? pending = null;
        return async () =>
        {
            // The same batch (same sequence) until it is acknowledged: an attempt of unknown outcome is never appended twice.
            pending ??= new ProducerBatch(writer.ProducerId, sequence, [new ProducerRecord(null, payload)]);
            if (await writer.TrySendAsync(pending, ClusterSettings.AttemptTimeout) is null)
            {
                return false;
            }

            sequence++;
            pending = null;
            return true;
        };
    }

    public ValueTask DisposeAsync() => ValueTask.CompletedTask;
}
