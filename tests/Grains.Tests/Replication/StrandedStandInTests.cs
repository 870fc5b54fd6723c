using Microsoft.Extensions.DependencyInjection;
using Orleans.TestingHost;
using Pyralog.Grains.Interfaces.Logs;
using Pyralog.Grains.Replication;
using Pyralog.Grains.Tests.Hosting;
using Pyralog.Grains.Tests.Partitions;

namespace Pyralog.Grains.Tests.Replication;

/// <summary>
/// A stand-in (a replica running away from its home silo, its group's voter under a new incarnation) that stops while its
/// group still counts it comes back on the silo that holds its data, under the incarnation its group counts — not at its
/// home silo, which is back by then but holds older data under an incarnation the group no longer names: when Orleans
/// ended it because a dead silo held its grain-directory entry (PinnedReplicas), and when it went home and its group,
/// another voter lost, cannot elect without it (the home incarnation gives way). Own cluster of four silos per test (it
/// kills and restarts silos), homecoming off so the stand-in stays away from its home until the test moves it.
/// </summary>
public sealed class StrandedStandInTests : IAsyncLifetime
{
    private const string LogName = "stranded";
    private const int Partitions = 4;

    private readonly StrandingFixture _fixture = new();

    public Task InitializeAsync() => _fixture.InitializeAsync();

    public Task DisposeAsync() => _fixture.DisposeAsync();

    [Fact]
    public async Task A_stand_in_deactivated_for_a_lost_directory_entry_comes_back_on_its_data_while_its_home_is_up()
    {
        var (log, key, standIn, host, restarted, acked, unknown) = await StandInWithItsHomeBackAsync();
        var grains = _fixture.Cluster.Client;
        var admin = grains.GetGrain<IPyralogAdminGrain>(0);

        // Orleans ends the stand-in as it does when the silo holding its directory entry dies.
        host.SiloHost.Services.GetRequiredService<ReplicaContexts>().Of(key)
            .Deactivate(new DeactivationReason(DeactivationReasonCode.DirectoryFailure, "test: the silo holding the directory entry died"));

        // Waited on in the silos, not by calling the replica: a call from elsewhere made before it is back could be
        // placed by the rule, which is what the stand-in itself must not be.
        var replicas = host.SiloHost.Services.GetRequiredService<LocalReplicas>();
        await ClusterWaits.UntilAsync(() => replicas.Active.Any(a => a.Key == key), "the stand-in active again on its silo");
        var back = await grains.GetGrain<IPartitionReplicaGrain>(key).GetStatusAsync();
        Assert.Equal(standIn.Silo, back.Silo);
        Assert.Equal(standIn.Incarnation, back.Incarnation);
        var restartedReplicas = ((InProcessSiloHandle)restarted).SiloHost.Services.GetRequiredService<LocalReplicas>();
        Assert.DoesNotContain(restartedReplicas.Active, a => a.Key == key);

        await PartitionCalls.WaitForAsync(admin, LogName, d => d.Partitions.All(PartitionCalls.AllLeadOrFollow), "every replica a voter again");
        await PartitionCalls.AppendToEachAsync(grains, log, "after", acked, unknown);
        await PartitionCalls.CheckEveryReplicaAsync(grains, log, acked, unknown);
    }

    [Fact]
    public async Task A_home_replica_gives_way_to_the_stand_in_its_group_counts_when_the_group_lost_another_voter_meanwhile()
    {
        var (log, key, standIn, host, restarted, acked, unknown) = await StandInWithItsHomeBackAsync();
        var cluster = _fixture.Cluster;
        var grains = cluster.Client;
        var admin = grains.GetGrain<IPyralogAdminGrain>(0);
        var slot = ReplicaGrainKey.Parse(key);
        var partition = (await admin.DescribeLogAsync(LogName)).Partitions[slot.Partition];
        var primary = cluster.Primary!.SiloAddress.ToParsableString();
        var other = partition.Replicas.FirstOrDefault(r => r.Key != key && r.Silo != primary && r.Silo != standIn.Silo)
            ?? throw new InvalidOperationException($"no voter of partition {slot.Partition} to kill beside the stand-in's silo {standIn.Silo} and the primary {primary}: " +
                string.Join(", ", partition.Replicas.Select(r => $"{r.Key}={r.Role} on {r.Silo}")));
        var otherSilo = cluster.Silos.Single(s => s.SiloAddress.ToParsableString() == other.Silo);

        // The stand-in goes home, as homecoming moves it (an Orleans migration, placed by the rule: at home), and before
        // its home incarnation runs there, another voter's silo dies: the group's configuration names the stand-in and the
        // dead voter, and one voter of three runs. The home activation is held at the home silo's replica data gate until
        // then, so nothing can run the slot elsewhere meanwhile: it is registered at home from the migration on (a
        // deactivation instead would leave the slot unregistered, and a leader's message routed by a stale directory cache
        // would start it on the stand-in's silo again, on the stand-in's data). Killed after the stand-in left: killed
        // first, that silo may hold the stand-in's directory entry, and the stand-in, stranded, comes back on its data.
        var homeServices = ((InProcessSiloHandle)restarted).SiloHost.Services;
        var homeGate = homeServices.GetRequiredService<LocalReplicas>().DataGate;
        Assert.True(homeGate.TryClaimForDrop(key), $"the home silo holds replica {key}'s data gate already");
        // (The migration completes once the home activation has, so the stand-in is waited out by its leaving the silo's
        // active replicas, which it does as its deactivation starts, before it stops its Raft node in the same turn.)
        var hostReplicas = host.SiloHost.Services.GetRequiredService<LocalReplicas>();
        host.SiloHost.Services.GetRequiredService<ReplicaContexts>().Of(key).Migrate(requestContext: null);
        await ClusterWaits.UntilAsync(() => hostReplicas.Active.All(a => a.Key != key), "the stand-in leaving its silo");
        await cluster.KillSiloAsync(otherSilo);
        homeGate.ReleaseDrop(key);

        var home = await homeServices.GetRequiredService<IGrainFactory>().GetGrain<IPartitionReplicaGrain>(key).GetStatusAsync();
        Assert.True(home.Silo == restarted.SiloAddress.ToParsableString(),
            $"the slot activated on {home.Silo}, not at home on {restarted.SiloAddress.ToParsableString()} (stand-in's silo {standIn.Silo}, killed {other.Silo})");
        Assert.NotEqual(standIn.Incarnation, home.Incarnation);

        // The home incarnation, leaderless, gives way: the slot runs again as the stand-in, on its data.
        await ClusterWaits.UntilAsync(() => hostReplicas.Active.Any(a => a.Key == key), "the stand-in active again on its silo", TimeSpan.FromSeconds(60));
        var back = await grains.GetGrain<IPartitionReplicaGrain>(key).GetStatusAsync();
        Assert.Equal(standIn.Silo, back.Silo);
        Assert.Equal(standIn.Incarnation, back.Incarnation);

        await PartitionCalls.WaitForAsync(admin, LogName, d => d.Partitions.All(PartitionCalls.AllLeadOrFollow), "every replica a voter again");
        await PartitionCalls.AppendToEachAsync(grains, log, "after", acked, unknown);
        await PartitionCalls.CheckEveryReplicaAsync(grains, log, acked, unknown);
    }

    /// <summary>
    /// Creates the log, kills a silo (not the primary, which holds the test membership table) so that a replica of a
    /// partition stands in on the partition's fourth silo as a voter, and restarts the killed silo on its data, seen up by
    /// every silo (placement, wherever it runs, would now name it).
    /// </summary>
    private async Task<(LogInfo Log, string Key, ReplicaStatus StandIn, InProcessSiloHandle Host, SiloHandle Restarted,
        List<(string Value, AppendAck Ack)>[] Acked, List<string>[] Unknown)> StandInWithItsHomeBackAsync()
    {
        var cluster = _fixture.Cluster;
        var grains = cluster.Client;
        var admin = grains.GetGrain<IPyralogAdminGrain>(0);
        var log = await admin.CreateLogAsync(LogName, Partitions, 3);
        var (acked, unknown) = PartitionCalls.EmptyHistory(Partitions);
        await PartitionCalls.AppendToEachAsync(grains, log, "before", acked, unknown);

        var described = await admin.DescribeLogAsync(LogName);
        var victim = cluster.SecondarySilos.First(s => described.Partitions.Any(p => p.Replicas.Any(r => r.Silo == s.SiloAddress.ToParsableString())));
        var victimAddress = victim.SiloAddress.ToParsableString();
        var away = described.Partitions.First(p => p.Replicas.Any(r => r.Silo == victimAddress));
        var key = away.Replicas.First(r => r.Silo == victimAddress).Key;
        var home = await grains.GetGrain<IPartitionReplicaGrain>(key).GetStatusAsync();

        await cluster.KillSiloAsync(victim);
        await ClusterWaits.DeclaredDeadAsync(cluster, victim.SiloAddress);
        await PartitionCalls.WaitForAsync(admin, LogName, d => d.Partitions.All(p => !p.SharedSilos && PartitionCalls.AllLeadOrFollow(p)),
            "every lost replica standing in on a survivor as a voter");
        var standIn = await grains.GetGrain<IPartitionReplicaGrain>(key).GetStatusAsync();
        Assert.NotEqual(victimAddress, standIn.Silo);
        Assert.NotEqual(home.Incarnation, standIn.Incarnation);

        var restarted = await cluster.StartSiloAsync(victim.InstanceNumber, cluster.Options);
        var host = (InProcessSiloHandle)cluster.Silos.Single(s => s.SiloAddress.ToParsableString() == standIn.Silo);
        // Up in membership and in the cluster manifest: placement chooses among the silos the manifest lists.
        await ClusterWaits.UntilAsync(() => cluster.Silos.All(s =>
                Membership((InProcessSiloHandle)s).CurrentSnapshot.GetSiloStatus(restarted.SiloAddress) == SiloStatus.Active &&
                ((InProcessSiloHandle)s).SiloHost.Services.GetRequiredService<IClusterManifestProvider>().Current.Silos.ContainsKey(restarted.SiloAddress)),
            "every silo sees the home silo up");
        return (log, key, standIn, host, restarted, acked, unknown);
    }

    private static IClusterMembershipService Membership(InProcessSiloHandle silo) =>
        silo.SiloHost.Services.GetRequiredService<IClusterMembershipService>();

    private sealed class StrandingFixture() : PyralogClusterFixture(4)
    {
        protected override bool MetadataGroupOnOwnSilos => false; // homecoming is off: its replicas stay where they were founded

        protected override void Configure(TestClusterBuilder builder) => builder.AddSiloBuilderConfigurator<ReplicasMovedByTest>();
    }
}
