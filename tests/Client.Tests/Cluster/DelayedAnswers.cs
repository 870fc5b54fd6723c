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

    private sealed class Replica(DelayedAnswers owner, IPartitionReplicaGrain inner) : IPartitionReplicaGrain
    {
        public async Task<AppendAck> ProduceAsync(ProducerBatch batch)
        {
            var ack = await inner.ProduceAsync(batch);
            if (Interlocked.Increment(ref owner._produced) <= owner.Held)
            {
                await Task.Delay(owner.Delay);
            }

            return ack;
        }

        public Task<AppendAck> AppendAsync(ProducerRecord[] records) => inner.AppendAsync(records);

        public Task<ReadBatch> PollAsync(ulong fromOffset, int maxBytes, TimeSpan maxWait) => inner.PollAsync(fromOffset, maxBytes, maxWait);

        public Task<ulong> FindOffsetAsync(DateTimeOffset time) => inner.FindOffsetAsync(time);

        public Task<ReadBatch> ReadAsync(ulong fromOffset, int maxBytes, bool linearizable = false) => inner.ReadAsync(fromOffset, maxBytes, linearizable);

        public Task<bool> BootstrapAsync(ReplicaBootstrap bootstrap) => inner.BootstrapAsync(bootstrap);

        public Task DeleteAsync() => inner.DeleteAsync();

        public Task<ReplicaStatus> GetStatusAsync() => inner.GetStatusAsync();

        public Task DeliverAsync(RaftEnvelope envelope) => inner.DeliverAsync(envelope);

        public Task DeliverConfirmedAsync(RaftEnvelope envelope) => inner.DeliverConfirmedAsync(envelope);

        public Task<ReplicaPrepared> PrepareAsync() => inner.PrepareAsync();

        public Task ReturnHomeAsync() => inner.ReturnHomeAsync();

        public Task<bool> HandLeadershipToAsync(int replica) => inner.HandLeadershipToAsync(replica);
    }
}
