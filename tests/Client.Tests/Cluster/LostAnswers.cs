using System.Collections.Concurrent;
using Orleans.Runtime;
using Pyralog.Grains.Interfaces.Logs;

namespace Pyralog.Client.Tests.Cluster;

/// <summary>
/// The cluster's grain factory, except that once a replica is <see cref="Silence"/>d no call to it is ever answered: the
/// call goes out, its answer (or failure) never comes back, as from a frozen process or over a partitioned network,
/// where no connection reset tells the caller anything.
/// </summary>
internal sealed class LostAnswers(IGrainFactory inner) : IGrainFactory
{
    private readonly ConcurrentDictionary<string, bool> _silenced = new(StringComparer.Ordinal);
    private int _lost;

    /// <summary>Calls to the silenced replicas so far.</summary>
    public int Lost => Volatile.Read(ref _lost);

    public void Silence(string replicaKey) => _silenced[replicaKey] = true;

    public TGrainInterface GetGrain<TGrainInterface>(string primaryKey, string? grainClassNamePrefix = null)
        where TGrainInterface : IGrainWithStringKey
    {
        var grain = inner.GetGrain<TGrainInterface>(primaryKey, grainClassNamePrefix);
        return grain is IPartitionReplicaGrain replica ? (TGrainInterface)(object)new Replica(this, primaryKey, replica) : grain;
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

    private sealed class Replica(LostAnswers owner, string key, IPartitionReplicaGrain inner) : IPartitionReplicaGrain
    {
        public Task<AppendAck> ProduceAsync(ProducerBatch batch) => Answer(inner.ProduceAsync(batch));

        public Task<AppendAck> AppendAsync(ProducerRecord[] records) => Answer(inner.AppendAsync(records));

        public Task<ReadBatch> PollAsync(ulong fromOffset, int maxBytes, TimeSpan maxWait) => Answer(inner.PollAsync(fromOffset, maxBytes, maxWait));

        public Task<ulong> FindOffsetAsync(DateTimeOffset time) => Answer(inner.FindOffsetAsync(time));

        public Task<ReadBatch> ReadAsync(ulong fromOffset, int maxBytes, bool linearizable = false) => Answer(inner.ReadAsync(fromOffset, maxBytes, linearizable));

        public Task<bool> BootstrapAsync(ReplicaBootstrap bootstrap) => inner.BootstrapAsync(bootstrap);

        public Task DeleteAsync() => inner.DeleteAsync();

        public Task<ReplicaStatus> GetStatusAsync() => Answer(inner.GetStatusAsync());

        public Task DeliverAsync(RaftEnvelope envelope) => inner.DeliverAsync(envelope);

        public Task DeliverConfirmedAsync(RaftEnvelope envelope) => inner.DeliverConfirmedAsync(envelope);

        public Task<ReplicaPrepared> PrepareAsync() => inner.PrepareAsync();

        public Task ReturnHomeAsync() => inner.ReturnHomeAsync();

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
