using Pyralog.Consensus;
using Pyralog.Grains.Interfaces.Logs;
using Pyralog.Grains.Metadata;
using Pyralog.Grains.Replication;
using Pyralog.Storage.Native;

namespace Pyralog.Grains.Tests.Metadata;

/// <summary>
/// The metadata group is founded only on a new cluster: not when a replica holds its log, and not when its replicas
/// run without data on silos that hold a partition's Raft log or met the founded group before (the silos with the
/// group's data are down, not new).
/// </summary>
public sealed class MetadataFoundingTests : IDisposable
{
    private readonly string _directory = Path.Combine(Path.GetTempPath(), $"pyralog-founding-{Guid.NewGuid():N}");

    [Fact]
    public void A_new_cluster_is_founded_and_a_founded_one_is_not_founded_again()
    {
        Assert.True(MetadataFounding.ShouldFound([new(11, false), new(12, false), new(13, false)], record: null));
        Assert.False(MetadataFounding.ShouldFound([new(11, false), new(12, true), new(13, false, SiloHoldsPartitions: true)], record: null));
    }

    [Fact]
    public void Replicas_without_data_on_a_silo_with_partition_data_refuse_to_found()
    {
        var refused = Assert.Throws<InvalidOperationException>(() =>
            MetadataFounding.ShouldFound([new(21, false), new(22, false, SiloHoldsPartitions: true), new(23, false)], record: null));
        Assert.Contains("silos with its data are down", refused.Message);
    }

    /// <summary>
    /// A silo without partition data (drained, a spare) that comes back first after a full stop, with every metadata
    /// replica placed on it, founded an empty group: its record of having met the founded group refuses that.
    /// </summary>
    [Fact]
    public void Replicas_without_data_on_a_silo_that_met_the_founded_group_refuse_to_found()
    {
        var refused = Assert.Throws<InvalidOperationException>(() =>
            MetadataFounding.ShouldFound([new(31, false, SiloSawFoundedGroup: true), new(32, false, SiloSawFoundedGroup: true), new(33, false, SiloSawFoundedGroup: true)], record: null));
        Assert.Contains("met the founded group before", refused.Message);
        Assert.Contains("silos with its data are down", refused.Message);
    }

    /// <summary>
    /// A silo that never ran in the cluster (new, or its store wiped) holds no mark; back first and alone after a full
    /// stop, only the cluster's record in grain storage tells that the group exists. An operator's re-founding passes over
    /// the record, never over a silo's mark of data.
    /// </summary>
    [Fact]
    public void Replicas_without_data_and_marks_refuse_to_found_while_the_cluster_records_the_group_founded()
    {
        var record = new MetadataFoundingRecord { FoundedAt = new DateTimeOffset(2026, 12, 7, 15, 0, 0, TimeSpan.Zero), RecordedBy = "S127.0.0.1:11111:1" };
        var refused = Assert.Throws<InvalidOperationException>(() =>
            MetadataFounding.ShouldFound([new(41, false), new(42, false), new(43, false)], record));
        Assert.Contains("records the group founded (recorded 2026-12-07T15:00:00.0000000+00:00 by S127.0.0.1:11111:1)", refused.Message);
        Assert.Contains("Pyralog:RefoundMetadataGroup=true", refused.Message);

        Assert.True(MetadataFounding.ShouldFound([new(41, false), new(42, false), new(43, false)], record, refound: true));
        Assert.False(MetadataFounding.ShouldFound([new(41, true), new(42, false), new(43, false)], record));
        var marked = Assert.Throws<InvalidOperationException>(() =>
            MetadataFounding.ShouldFound([new(41, false), new(42, false, SiloHoldsPartitions: true), new(43, false)], record, refound: true));
        Assert.Contains("hold partitions' Raft logs", marked.Message);
    }

    [Fact]
    public async Task A_store_records_once_that_its_silo_met_the_founded_group_and_keeps_it_across_a_reopen_and_replica_drops()
    {
        await using (var store = PyramidStore.Open(_directory))
        {
            Assert.False(await ReplicaKv.SawFoundedGroupAsync(store));
            await ReplicaKv.RecordSawFoundedGroupAsync(store);
            await ReplicaKv.RecordSawFoundedGroupAsync(store);
            using (var drop = new WriteBatch())
            {
                ReplicaKv.DropAll(store, ReplicaKv.StoreLog(0, 0, 0), drop, tombstone: false);
                await store.WriteAsync(drop);
            }

            Assert.True(await ReplicaKv.SawFoundedGroupAsync(store));
            Assert.False(await ReplicaKv.HoldsPartitionLogAsync(store)); // a mark of its own, not a partition's log
        }

        await using var reopened = PyramidStore.Open(_directory);
        Assert.True(await ReplicaKv.SawFoundedGroupAsync(reopened));
    }

    [Fact]
    public async Task A_store_holds_a_partition_log_once_a_partition_replica_holds_raft_entries()
    {
        await using var store = PyramidStore.Open(_directory);
        Assert.False(await ReplicaKv.HoldsPartitionLogAsync(store));

        // The metadata group's replicas (log 0), even founded, are not partition data.
        for (var slot = 0; slot < 3; slot++)
        {
            var metadata = await ReplicaStorage.OpenAsync(store, ReplicaKv.StoreLog(0, 0, slot));
            await metadata.RecordIncarnationAsync(100 + slot, CancellationToken.None);
            await metadata.BootstrapAsync(new ClusterConfig([new Member(1, 100)], []), CancellationToken.None);
        }

        // A partition replica activated by a stale client's call records an incarnation only; a deleted log leaves a tombstone.
        var stale = await ReplicaStorage.OpenAsync(store, ReplicaKv.StoreLog(5, 0, 0));
        await stale.RecordIncarnationAsync(200, CancellationToken.None);
        using (var tombstone = new WriteBatch())
        {
            ReplicaKv.DropAll(store, ReplicaKv.StoreLog(6, 0, 1), tombstone, tombstone: true);
            await store.WriteAsync(tombstone);
        }

        Assert.False(await ReplicaKv.HoldsPartitionLogAsync(store));

        var founded = await ReplicaStorage.OpenAsync(store, ReplicaKv.StoreLog(7, 3, 1));
        await founded.RecordIncarnationAsync(300, CancellationToken.None);
        await founded.BootstrapAsync(new ClusterConfig([new Member(2, 300)], []), CancellationToken.None);
        Assert.True(await ReplicaKv.HoldsPartitionLogAsync(store));
    }

    public void Dispose()
    {
        if (Directory.Exists(_directory))
        {
            Directory.Delete(_directory, recursive: true);
        }
    }
}
