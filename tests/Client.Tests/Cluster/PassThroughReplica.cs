using Pyralog.Grains.Interfaces.Logs;

namespace Pyralog.Client.Tests.Cluster;

/// <summary>A partition replica that passes every call to the real one; wrappers override what they change (idempotent appends).</summary>
internal abstract class PassThroughReplica(IPartitionReplicaGrain inner) : IPartitionReplicaGrain
{
    protected IPartitionReplicaGrain Inner => inner;

    public virtual Task<AppendAck> ProduceAsync(ProducerBatch batch) => inner.ProduceAsync(batch);

    public Task<AppendAck> AppendAsync(ProducerRecord[] records) => inner.AppendAsync(records);

    public Task<ReadBatch> PollAsync(ulong fromOffset, int maxBytes, TimeSpan maxWait) => inner.PollAsync(fromOffset, maxBytes, maxWait);

    public Task<ulong> FindOffsetAsync(DateTimeOffset time) => inner.FindOffsetAsync(time);

    public Task<ReadBatch> ReadAsync(ulong fromOffset, int maxBytes, bool linearizable = false) => inner.ReadAsync(fromOffset, maxBytes, linearizable);

    public Task<bool> BootstrapAsync(ReplicaBootstrap bootstrap) => inner.BootstrapAsync(bootstrap);

    public Task DeleteAsync() => inner.DeleteAsync();

    public Task<string?> AddReplicaAsync(int replica, long incarnation) => inner.AddReplicaAsync(replica, incarnation);

    public Task<string?> RemoveReplicaAsync(int replica, int successor, int keep) => inner.RemoveReplicaAsync(replica, successor, keep);

    public Task<string?> RemoveReplicaAsync(int replica, int successor) => inner.RemoveReplicaAsync(replica, successor);

    public Task<bool> RetireAsync() => inner.RetireAsync();

    public Task<ReplicaStatus> GetStatusAsync() => inner.GetStatusAsync();

    public Task DeliverAsync(RaftEnvelope envelope) => inner.DeliverAsync(envelope);

    public Task DeliverConfirmedAsync(RaftEnvelope envelope) => inner.DeliverConfirmedAsync(envelope);

    public Task<ReplicaPrepared> PrepareAsync() => inner.PrepareAsync();

    public Task ReturnHomeAsync() => inner.ReturnHomeAsync();

    public Task<bool> HandLeadershipToAsync(int replica) => inner.HandLeadershipToAsync(replica);

    public Task<bool> MayLeaveAsync(int replica) => inner.MayLeaveAsync(replica);
}
