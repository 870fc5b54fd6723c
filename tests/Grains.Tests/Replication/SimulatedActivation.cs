using Microsoft.Extensions.Logging.Abstractions;
using Pyralog.Consensus;
using Pyralog.Grains.Interfaces.Logs;
using Pyralog.Grains.Partitions;
using Pyralog.Grains.Replication;
using Pyralog.Storage.Native;

namespace Pyralog.Grains.Tests.Replication;

/// <summary>One activation of a replica in the simulated-network tests: a driver on its own silo's store, sending into the shared network.</summary>
internal sealed class SimulatedActivation(PyramidStore store, ReplicaStorage storage, int slot, long incarnation, List<(int To, RaftEnvelope Envelope)> network)
    : IReplicaTransport, IAsyncDisposable
{
    private PartitionState _state = null!;

    public ReplicaStorage Storage => storage;

    public int Slot => slot;

    public long Incarnation => incarnation;

    public ReplicaDriver Driver { get; private set; } = null!;

    public static async Task<SimulatedActivation> OpenAsync(string directory, int slot, long incarnation, List<(int, RaftEnvelope)> network)
    {
        var store = PyramidStore.Open(directory);
        var storage = await ReplicaStorage.OpenAsync(store, 1 << 24);
        await storage.RecordIncarnationAsync(incarnation, default);
        return new SimulatedActivation(store, storage, slot, incarnation, network);
    }

    public async Task StartAsync()
    {
        _state = await PartitionState.LoadAsync(store, storage.StoreLog);
        var node = new RaftNode(new RaftOptions
        {
            Id = ReplicaDriver.RaftId(slot), Incarnation = incarnation, Storage = storage,
            Random = new SeededRaftRandom((ulong)incarnation), ElectionTicks = 10, MaxBytesPerMessage = ReplicaDriver.AppendBytes,
        });
        Driver = new ReplicaDriver(node, storage, store, _state, this, NullLogger.Instance, new ReplicaGrainKey(9, 0, slot), skipSync: false);
        Driver.Wake("activation");
    }

    public List<CommittedRecord> ReadAll()
    {
        var records = new List<CommittedRecord>();
        _state.Read(0, long.MaxValue, records);
        return records;
    }

    public void Send(long toRaftId, RaftEnvelope envelope) => network.Add((ReplicaDriver.Replica(toRaftId), envelope));

    public void SetTicking(bool on)
    {
    }

    /// <summary>Whether the driver last said it leads.</summary>
    public bool Leads { get; private set; }

    public void LeadershipChanged(bool leads) => Leads = leads;

    public void Failed(Exception error) => throw new InvalidOperationException("a store failed", error);

    public async ValueTask DisposeAsync()
    {
        Driver.Dispose();
        await store.DisposeAsync();
    }
}
