using Orleans.Runtime;
using Pyralog.Grains.Interfaces.Logs;

namespace Pyralog.Client.Tests.Cluster;

/// <summary>
/// The cluster's grain factory, except that after <see cref="LoseNextAnswer"/> the next idempotent append happens, then
/// the given work runs (a test makes the partition forget the producer there), then the caller gets a timeout instead
/// of the acknowledgement. Every idempotent append is recorded with what the caller got.
/// </summary>
internal sealed class LostAnswerThenForgotten(IGrainFactory inner) : ReplicaWrappingGrainFactory(inner)
{
    private readonly Lock _gate = new();
    private readonly List<(ProducerBatch Batch, Exception? Error)> _produced = [];
    private Func<Task>? _meanwhile;

    /// <summary>Idempotent appends so far, in the order they were answered, with the failure the caller got (null: acknowledged).</summary>
    public (ProducerBatch Batch, Exception? Error)[] Produced
    {
        get
        {
            lock (_gate)
            {
                return [.. _produced];
            }
        }
    }

    public void LoseNextAnswer(Func<Task> meanwhile)
    {
        lock (_gate)
        {
            _meanwhile = meanwhile;
        }
    }

    protected override IPartitionReplicaGrain Wrap(string key, IPartitionReplicaGrain replica) => new Replica(this, replica);

    private void Record(ProducerBatch batch, Exception? error)
    {
        lock (_gate)
        {
            _produced.Add((batch, error));
        }
    }

    private sealed class Replica(LostAnswerThenForgotten owner, IPartitionReplicaGrain inner) : PassThroughReplica(inner)
    {
        public override async Task<AppendAck> ProduceAsync(ProducerBatch batch)
        {
            Func<Task>? meanwhile;
            lock (owner._gate)
            {
                meanwhile = owner._meanwhile;
                owner._meanwhile = null;
            }

            AppendAck ack;
            try
            {
                ack = await Inner.ProduceAsync(batch);
            }
            catch (Exception e)
            {
                owner.Record(batch, e);
                throw;
            }

            if (meanwhile is null)
            {
                owner.Record(batch, null);
                return ack;
            }

            await meanwhile();
            var lost = new TimeoutException("the acknowledgement was lost");
            owner.Record(batch, lost);
            throw lost;
        }
    }
}
