using Orleans.Runtime;
using Pyralog.Grains.Interfaces.Logs;

namespace Pyralog.Client.Tests.Cluster;

/// <summary>
/// The cluster's grain factory, except that the answers of the first <see cref="Held"/> idempotent appends reach the
/// caller only after <see cref="Delay"/>: the append happens, its acknowledgement comes too late (a lost acknowledgement).
/// </summary>
internal sealed class DelayedAnswers(IGrainFactory inner, TimeSpan delay, int held) : ReplicaWrappingGrainFactory(inner)
{
    private int _produced;

    public TimeSpan Delay => delay;

    public int Held => held;

    /// <summary>Idempotent appends sent so far.</summary>
    public int Produced => Volatile.Read(ref _produced);

    protected override IPartitionReplicaGrain Wrap(string key, IPartitionReplicaGrain replica) => new Replica(this, replica);

    private sealed class Replica(DelayedAnswers owner, IPartitionReplicaGrain inner) : PassThroughReplica(inner)
    {
        public override async Task<AppendAck> ProduceAsync(ProducerBatch batch)
        {
            var ack = await Inner.ProduceAsync(batch);
            if (Interlocked.Increment(ref owner._produced) <= owner.Held)
            {
                await Task.Delay(owner.Delay);
            }

            return ack;
        }
    }
}
