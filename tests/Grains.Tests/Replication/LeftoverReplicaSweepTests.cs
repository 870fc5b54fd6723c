using Microsoft.Extensions.DependencyInjection;
using Orleans.TestingHost;
using Pyralog.Grains.Hosting;
using Pyralog.Grains.Interfaces.Logs;
using Pyralog.Grains.Replication;
using Pyralog.Grains.Tests.Hosting;
using Pyralog.Grains.Tests.Partitions;
using Pyralog.Storage.Native;

namespace Pyralog.Grains.Tests.Replication;

/// <summary>
/// The leftover sweep keeps a copy homed on another, active silo while the copy's group still counts its incarnation as a
/// voter, and drops one its group does not count; a copy whose state cannot be read is kept and reported. Three silos, a
/// log of two partitions at RF 2: copies of both slots of partition 0 are planted on the silo that holds neither (the
/// sweep's own timer is off: the test runs its passes).
/// </summary>
public sealed class LeftoverReplicaSweepTests(LeftoverReplicaSweepTests.SweepFixture fixture) : IClassFixture<LeftoverReplicaSweepTests.SweepFixture>
{
    private const string LogName = "leftovers";

    [Fact]
    public async Task A_copy_homed_on_an_active_silo_is_kept_while_its_group_counts_its_incarnation()
    {
        var cluster = fixture.Cluster;
        var admin = cluster.Client.GetGrain<IPyralogAdminGrain>(0);
        var log = await admin.CreateLogAsync(LogName, 2, 2);
        var described = await PartitionCalls.WaitForAsync(admin, LogName, d => d.Partitions.All(PartitionCalls.AllLeadOrFollow), "both replicas voting");
        var replicas = described.Partitions[0].Replicas;
        var bystander = (InProcessSiloHandle)cluster.Silos.Single(s => replicas.All(r => r.Silo != s.SiloAddress.ToParsableString()));
        var services = bystander.SiloHost.Services;
        var store = services.GetRequiredService<SiloStore>().Store;
        var sweep = services.GetRequiredService<LeftoverReplicaSweep>();

        // Partition 0: slot 0's copy under the incarnation its group counts (its running replica's), slot 1's under one it
        // never counted. Partition 1: a copy of a slot homed elsewhere whose hard state is damaged.
        var counted = await cluster.Client.GetGrain<IPartitionReplicaGrain>(replicas[0].Key).GetStatusAsync();
        var countedCopy = await PlantAsync(store, log.Id, 0, replicas[0].Replica, counted.Incarnation);
        var uncountedCopy = await PlantAsync(store, log.Id, 0, replicas[1].Replica, 1);
        var elsewhere = described.Partitions[1].Replicas.First(r => r.Silo != bystander.SiloAddress.ToParsableString());
        var damagedCopy = await PlantAsync(store, log.Id, 1, elsewhere.Replica, 1);
        using (var damage = new WriteBatch())
        {
            damage.Put(ReplicaKv.Key(damagedCopy, ReplicaKv.HardState), new byte[5]);
            await store.WriteAsync(damage);
        }

        Assert.Equal(0, await sweep.SweepOnceAsync(CancellationToken.None)); // a first pass only suspects
        Assert.Equal(1, await sweep.SweepOnceAsync(CancellationToken.None));
        Assert.Contains(countedCopy, ReplicaKv.StoreLogsWithState(store));
        Assert.DoesNotContain(uncountedCopy, ReplicaKv.StoreLogsWithState(store));
        Assert.Contains(damagedCopy, ReplicaKv.StoreLogsWithState(store)); // kept (reported), and the pass went on
        Assert.Equal(0, await sweep.SweepOnceAsync(CancellationToken.None));
        Assert.Contains(countedCopy, ReplicaKv.StoreLogsWithState(store));

        // Its log deleted, nothing counts the copies any more: the next pass drops them (a kept copy stays a suspect).
        await admin.DeleteLogAsync(LogName);
        Assert.Equal(2, await sweep.SweepOnceAsync(CancellationToken.None));
        Assert.DoesNotContain(countedCopy, ReplicaKv.StoreLogsWithState(store));
        Assert.DoesNotContain(damagedCopy, ReplicaKv.StoreLogsWithState(store));
    }

    [Fact]
    public async Task A_replica_still_running_after_its_logs_delete_is_ended_by_the_sweep()
    {
        // The delete is committed, but no replica is told (the admin's silo died right after): they run on, a group of a
        // log that no longer exists, and a retried delete finds no log by that name.
        const string Name = "half-deleted";
        var cluster = fixture.Cluster;
        var admin = cluster.Client.GetGrain<IPyralogAdminGrain>(0);
        var log = await admin.CreateLogAsync(Name, 1, 2);
        var leader = await PartitionCalls.LeaderAsync(cluster.Client, log, 0);
        await leader.AppendAsync([PartitionCalls.Rec("kept")]);
        var deleted = await cluster.Client.GetGrain<Pyralog.Grains.Metadata.IMetadataAdminGrain>(0).CommitMetadataAsync(
            new Pyralog.Grains.Metadata.MetadataCommand { Kind = "delete", Name = Name, LogId = log.Id }.Encode());
        Assert.Null(deleted.Error);
        Assert.Contains($"no log is named '{Name}'", (await Assert.ThrowsAsync<InvalidOperationException>(() => admin.DeleteLogAsync(Name))).Message);
        Assert.Equal(1ul, (await leader.GetStatusAsync()).NextOffset); // still running

        var sweeps = cluster.Silos.Cast<InProcessSiloHandle>().Select(s => s.SiloHost.Services).ToList();
        foreach (var services in sweeps)
        {
            Assert.Equal(0, await services.GetRequiredService<LeftoverReplicaSweep>().SweepOnceAsync(CancellationToken.None)); // suspects
        }

        foreach (var services in sweeps)
        {
            await services.GetRequiredService<LeftoverReplicaSweep>().SweepOnceAsync(CancellationToken.None); // ends the running ones
        }

        foreach (var slot in log.ReplicaSlots(0))
        {
            var gone = await Assert.ThrowsAsync<InvalidOperationException>(() => cluster.Client.GetGrain<IPartitionReplicaGrain>(log.ReplicaKey(0, slot)).GetStatusAsync());
            Assert.Contains($"no log has id {log.Id}", gone.Message);
        }

        foreach (var services in sweeps)
        {
            var store = services.GetRequiredService<SiloStore>().Store;
            foreach (var storeLog in ReplicaKv.StoreLogsWithState(store).Where(l => ReplicaKv.ReplicaOf(l).Log == log.Id))
            {
                Assert.NotNull(await store.GetAsync(ReplicaKv.Key(storeLog, ReplicaKv.Deleted))); // only the tombstone is left
            }
        }
    }

    /// <summary>Writes a replica's hard state under <paramref name="incarnation"/>, as a copy left by an earlier activation.</summary>
    private static async Task<ulong> PlantAsync(PyramidStore store, ulong log, int partition, int slot, long incarnation)
    {
        var storeLog = ReplicaKv.StoreLog(log, partition, slot);
        var copy = await ReplicaStorage.OpenAsync(store, storeLog);
        await copy.RecordIncarnationAsync(incarnation, CancellationToken.None);
        return storeLog;
    }

    public sealed class SweepFixture() : PyralogClusterFixture(3)
    {
        protected override bool MetadataGroupOnOwnSilos => false; // homecoming is off: its replicas stay where they were founded

        protected override void Configure(TestClusterBuilder builder) => builder.AddSiloBuilderConfigurator<NoSweepTimer>();
    }

    private sealed class NoSweepTimer : ISiloConfigurator
    {
        public void Configure(ISiloBuilder siloBuilder) =>
            siloBuilder.Services.Configure<PyralogOptions>(o =>
            {
                // The sweep's (and homecoming's) interval: the test runs the sweep's passes itself.
                o.Replication.HomecomingSweep = TimeSpan.FromHours(1);
                o.Replication.HomecomingInterval = TimeSpan.FromHours(1);
            });
    }
}
