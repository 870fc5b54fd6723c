using Pyralog.Grains.Interfaces.Logs;

namespace Pyralog.Grains.Tests.Partitions;

/// <summary>
/// A silo dies and comes back on its data: the replicas that had moved off it (new incarnations beside a sibling on a
/// survivor) return to it, reopen their data under their old incarnation, and every group is on distinct silos again,
/// with nothing acknowledged lost. Own cluster (it kills and restarts a silo).
/// </summary>
public class HomecomingTests : IAsyncLifetime
{
    private const string LogName = "homecoming";
    private const int Partitions = 3;

    private readonly PartitionClusterFixture _fixture = new();

    public Task InitializeAsync() => _fixture.InitializeAsync();

    public Task DisposeAsync() => _fixture.DisposeAsync();

    [Fact]
    public async Task Replicas_that_moved_off_a_dead_silo_return_to_it_when_it_restarts_on_its_data()
    {
        var cluster = _fixture.Cluster;
        var grains = cluster.Client;
        var admin = grains.GetGrain<IPyralogAdminGrain>(0);
        var log = await admin.CreateLogAsync(LogName, Partitions, 3);
        var (acked, unknown) = PartitionCalls.EmptyHistory(Partitions);
        await PartitionCalls.AppendToEachAsync(grains, log, "before", acked, unknown);

        // Every silo holds one replica of each partition; the victim is not the primary (it holds the test membership table).
        var victim = cluster.SecondarySilos[0];
        var victimAddress = victim.SiloAddress.ToParsableString();
        var lost = new ReplicaStatus[Partitions];
        foreach (var partition in (await admin.DescribeLogAsync(LogName)).Partitions)
        {
            var replica = partition.Replicas.Single(r => r.Silo == victimAddress);
            lost[partition.Partition] = await grains.GetGrain<IPartitionReplicaGrain>(replica.Key).GetStatusAsync();
        }

        await cluster.KillSiloAsync(victim);
        await PartitionCalls.AppendToEachAsync(grains, log, "while-away", acked, unknown);
        var away = await PartitionCalls.WaitForAsync(admin, LogName, d => d.Partitions.All(p => p.SharedSilos && PartitionCalls.AllLeadOrFollow(p)),
            "every lost replica replaced on a survivor and promoted");
        foreach (var status in lost)
        {
            var replacement = away.Partitions.SelectMany(p => p.Replicas).Single(r => r.Key == status.Key);
            Assert.NotEqual(victimAddress, replacement.Silo);
        }

        var restarted = await cluster.StartSiloAsync(victim.InstanceNumber, cluster.Options);
        var home = restarted.SiloAddress.ToParsableString();
        var back = await PartitionCalls.WaitForAsync(admin, LogName,
            d => d.Partitions.All(p => !p.SharedSilos && PartitionCalls.AllLeadOrFollow(p)) &&
                 lost.All(s => d.Partitions.SelectMany(p => p.Replicas).Single(r => r.Key == s.Key).Silo == home),
            "every replica back on its home silo, each group on three silos");
        Assert.All(back.Partitions, p => Assert.Equal(3, p.Replicas.Select(r => r.Silo).Distinct().Count()));
        foreach (var status in lost)
        {
            // Home again on its own data: the incarnation it had before the silo died.
            var now = await grains.GetGrain<IPartitionReplicaGrain>(status.Key).GetStatusAsync();
            Assert.Equal(home, now.Silo);
            Assert.Equal(status.Incarnation, now.Incarnation);
        }

        await PartitionCalls.AppendToEachAsync(grains, log, "after", acked, unknown);
        await PartitionCalls.CheckEveryReplicaAsync(grains, log, acked, unknown);
    }
}
