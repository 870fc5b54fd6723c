using Orleans.Runtime;
using Pyralog.Grains.Interfaces.Logs;

namespace Pyralog.Client.Tests.Cluster;

/// <summary>
/// The cluster's grain factory, except that the answers of the first <see cref="Held"/> idempotent appends reach the
/// caller only after <see cref="Delay"/>: the append happens, its acknowledgement comes too late (a lost acknowledgement).
/// </summary>
internal sealed class DelayedAnswers(IGrainFactory inner, TimeSpan delay, int held) : IGrainFactory
{
    private int _produced;

    public TimeSpan Delay => delay;

    public int Held => held;

    /// <summary>Idempotent appends sent so far.</summary>
    public int Produced => Volatile.Read(ref _produced);

    public TGrainInterface GetGrain<TGrainInterface>(string primaryKey, string? grainClassNamePrefix = null)
        where TGrainInterface : IGrainWithStringKey
    {
        var grain = inner.GetGrain<TGrainInterface>(primaryKey, grainClassNamePrefix);
        return grain is IPartitionReplicaGrain replica ? (TGrainInterface)(object)new Replica(this, replica) : grain;
    }

    public TGrainInterface GetGrain<TGrainInterface>(long primaryKey, string? grainClassNamePrefix = null)
        where TGrainInterface : IGrainWithIntegerKey => inner.GetGrain<TGrainInterface>(primaryKey, grainClassNamePrefix);

    public TGrainInterface GetGrain<TGrainInterface>(Guid primaryKey, string? grainClassNamePrefix = null)
        where TGrainInterface : IGrainWithGuidKey => inner.GetGrain<TGrainInterface>(primaryKey, grainClassNamePrefix);

    public TGrainInterface GetGrain<TGrainInterface>(long primaryKey, string keyExtension, string? grainClassNamePrefix = null)
        where TGrainInterface : IGrainWithIntegerCompoundKey => inner.GetGrain<TGrainInterface>(primaryKey, keyExtension, grainClassNamePrefix);

    public TGrainInterface GetGrain<TGrainInterface>(Guid primaryKey, string keyExtension, string? grainClassNamePrefix = null)
        where TGrainInterface : IGrainWithGuidCompoundKey => inner.GetGrain<TGrainInterface>(primaryKey, keyExtension, grainClassNamePrefix);

    public TGrainObserverInterface CreateObjectReference<TGrainObserverInterface>(IGrainObserver obj)
        where TGrainObserverInterface : IGrainObserver => inner.CreateObjectReference<TGrainObserverInterface>(obj);

    public void DeleteObjectReference<TGrainObserverInterface>(IGrainObserver obj)
        where TGrainObserverInterface : IGrainObserver => inner.DeleteObjectReference<TGrainObserverInterface>(obj);

    public IGrain GetGrain(Type grainInterfaceType, Guid grainPrimaryKey) => inner.GetGrain(grainInterfaceType, grainPrimaryKey);

    public IGrain GetGrain(Type grainInterfaceType, long grainPrimaryKey) => inner.GetGrain(grainInterfaceType, grainPrimaryKey);

    public IGrain GetGrain(Type grainInterfaceType, string grainPrimaryKey) => inner.GetGrain(grainInterfaceType, grainPrimaryKey);

    public IGrain GetGrain(Type grainInterfaceType, Guid grainPrimaryKey, string keyExtension) => inner.GetGrain(grainInterfaceType, grainPrimaryKey, keyExtension);

    public IGrain GetGrain(Type grainInterfaceType, long grainPrimaryKey, string keyExtension) => inner.GetGrain(grainInterfaceType, grainPrimaryKey, keyExtension);

    public TGrainInterface GetGrain<TGrainInterface>(GrainId grainId)
        where TGrainInterface : IAddressable => inner.GetGrain<TGrainInterface>(grainId);

    public IAddressable GetGrain(GrainId grainId) => inner.GetGrain(grainId);

    public IAddressable GetGrain(GrainId grainId, GrainInterfaceType interfaceType) => inner.GetGrain(grainId, interfaceType);

    public IAddressable GetGrain(Type interfaceType, IdSpan grainKey, string grainClassNamePrefix) => inner.GetGrain(interfaceType, grainKey, grainClassNamePrefix);

    public IAddressable GetGrain(Type interfaceType, IdSpan grainKey) => inner.GetGrain(interfaceType, grainKey);

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
    }
}
