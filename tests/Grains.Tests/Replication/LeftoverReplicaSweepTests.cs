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
