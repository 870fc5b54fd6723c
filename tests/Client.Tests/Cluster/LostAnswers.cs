using System.Collections.Concurrent;
using Orleans.Runtime;
using Pyralog.Grains.Interfaces.Logs;

namespace Pyralog.Client.Tests.Cluster;

/// <summary>
/// The cluster's grain factory, except that once a replica is <see cref="Silence"/>d no call to it is ever answered: the
/// call goes out, its answer (or failure) never comes back, as from a frozen process or over a partitioned network,
/// where no connection reset tells the caller anything.
/// </summary>
internal sealed class LostAnswers(IGrainFactory inner) : ReplicaWrappingGrainFactory(inner)
{
    private readonly ConcurrentDictionary<string, bool> _silenced = new(StringComparer.Ordinal);
    private int _lost;

    /// <summary>Calls to the silenced replicas so far.</summary>
    public int Lost => Volatile.Read(ref _lost);

    public void Silence(string replicaKey) => _silenced[replicaKey] = true;

    protected override IPartitionReplicaGrain Wrap(string key, IPartitionReplicaGrain replica) => new Replica(this, key, replica);

    private sealed class Replica(LostAnswers owner, string key, IPartitionReplicaGrain inner) : IPartitionReplicaGrain
    {
        public Task<AppendAck> ProduceAsync(ProducerBatch batch) => Answer(inner.ProduceAsync(batch));

        public Task<AppendAck> AppendAsync(ProducerRecord[] records) => Answer(inner.AppendAsync(records));

        public Task<ReadBatch> PollAsync(ulong fromOffset, int maxBytes, TimeSpan maxWait) => Answer(inner.PollAsync(fromOffset, maxBytes, maxWait));

        public Task<ulong> FindOffsetAsync(DateTimeOffset time) => Answer(inner.FindOffsetAsync(time));

        public Task<ReadBatch> ReadAsync(ulong fromOffset, int maxBytes, bool linearizable = false) => Answer(inner.ReadAsync(fromOffset, maxBytes, linearizable));

        public Task<bool> BootstrapAsync(ReplicaBootstrap bootstrap) => inner.BootstrapAsync(bootstrap);

        public Task DeleteAsync() => inner.DeleteAsync();

        public Task<string?> AddReplicaAsync(int replica, long incarnation) => inner.AddReplicaAsync(replica, incarnation);

        public Task<string?> RemoveReplicaAsync(int replica, int successor, int keep) => inner.RemoveReplicaAsync(replica, successor, keep);

        public Task<string?> RemoveReplicaAsync(int replica, int successor) => inner.RemoveReplicaAsync(replica, successor);

        public Task<bool> RetireAsync() => inner.RetireAsync();

        public Task<ReplicaStatus> GetStatusAsync() => Answer(inner.GetStatusAsync());

        public Task DeliverAsync(RaftEnvelope envelope) => inner.DeliverAsync(envelope);

        public Task DeliverConfirmedAsync(RaftEnvelope envelope) => inner.DeliverConfirmedAsync(envelope);

        public Task<ReplicaPrepared> PrepareAsync() => inner.PrepareAsync();

        public Task ReturnHomeAsync() => inner.ReturnHomeAsync();

        public Task<bool> HandLeadershipToAsync(int replica) => inner.HandLeadershipToAsync(replica);

        public Task<bool> MayLeaveAsync(int replica) => inner.MayLeaveAsync(replica);

        private Task<T> Answer<T>(Task<T> call)
        {
            if (!owner._silenced.ContainsKey(key))
            {
                return call;
            }

            Interlocked.Increment(ref owner._lost);
            _ = call.ContinueWith(static t => _ = t.Exception, TaskScheduler.Default);
            return new TaskCompletionSource<T>().Task; // never answered
        }
    }
}
