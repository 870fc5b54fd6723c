using Pyralog.Grains.Interfaces.Logs;
using Pyralog.Grains.Metadata;
using Pyralog.Grains.Replication;
using Pyralog.Storage.Native;

namespace Pyralog.Grains.Tests.Metadata;

/// <summary>
/// The metadata group is founded only on a new cluster: not when a replica holds its log, and not when its replicas
/// run without data on silos that hold partition data (the silos with the group's data are down, not new).
/// </summary>
public sealed class MetadataFoundingTests : IDisposable
{
    private readonly string _directory = Path.Combine(Path.GetTempPath(), $"pyralog-founding-{Guid.NewGuid():N}");

    [Fact]
    public void A_new_cluster_is_founded_and_a_founded_one_is_not_founded_again()
    {
        Assert.True(MetadataFounding.ShouldFound([new(11, false), new(12, false), new(13, false)]));
        Assert.False(MetadataFounding.ShouldFound([new(11, false), new(12, true), new(13, false, SiloHoldsPartitions: true)]));
    }

    [Fact]
    public void Replicas_without_data_on_a_silo_with_partition_data_refuse_to_found()
    {
        var refused = Assert.Throws<InvalidOperationException>(() =>
            MetadataFounding.ShouldFound([new(21, false), new(22, false, SiloHoldsPartitions: true), new(23, false)]));
        Assert.Contains("silos with its data are down", refused.Message);
    }

    [Fact]
    public async Task A_store_holds_partition_state_once_a_partition_replica_wrote_some()
    {
        await using var store = PyramidStore.Open(_directory);
        Assert.False(ReplicaKv.HoldsPartitionState(store));

        // The metadata group's replicas (log 0), even with their incarnations recorded, are not partition data.
        for (var slot = 0; slot < 3; slot++)
        {
            var metadata = await ReplicaStorage.OpenAsync(store, ReplicaKv.StoreLog(0, 0, slot));
            await metadata.RecordIncarnationAsync(100 + slot, CancellationToken.None);
        }

        Assert.False(ReplicaKv.HoldsPartitionState(store));

        var partition = await ReplicaStorage.OpenAsync(store, ReplicaKv.StoreLog(7, 3, 1));
        await partition.RecordIncarnationAsync(200, CancellationToken.None);
        Assert.True(ReplicaKv.HoldsPartitionState(store));
    }

    public void Dispose()
    {
        if (Directory.Exists(_directory))
        {
            Directory.Delete(_directory, recursive: true);
        }
    }
}
