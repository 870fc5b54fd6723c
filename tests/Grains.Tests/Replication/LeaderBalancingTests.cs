using Microsoft.Extensions.DependencyInjection;
using Orleans.TestingHost;
using Pyralog.Grains.Hosting;
using Pyralog.Grains.Interfaces.Logs;
using Pyralog.Grains.Metadata;
using Pyralog.Grains.Tests.Hosting;
using Pyralog.Grains.Tests.Partitions;

namespace Pyralog.Grains.Tests.Replication;

/// <summary>
/// Leader balancing on a real three-silo cluster: when one silo leads every partition, the others take leaderships
/// over until every silo leads within one of the mean, and the partitions keep appending with nothing lost; a drained
/// silo leads nothing until it is undrained. Own cluster per test (balancing on, every two seconds).
/// </summary>
public sealed class LeaderBalancingTests : IAsyncLifetime
{
    private const int Partitions = 12;
    private readonly BalancingFixture _fixture = new();

    public Task InitializeAsync() => _fixture.InitializeAsync();

    public Task DisposeAsync() => _fixture.DisposeAsync();

    [Fact]
    public async Task Leaderships_gathered_on_one_silo_spread_until_every_silo_leads_within_one_of_the_mean()
    {
        var grains = _fixture.Cluster.Client;
        var admin = grains.GetGrain<IPyralogAdminGrain>(0);
        var log = await admin.CreateLogAsync("balanced", Partitions, 3);
        var described = await PartitionCalls.WaitForAsync(admin, log.Name, d => d.Partitions.All(PartitionCalls.AllLeadOrFollow), "every partition led");
        var target = _fixture.Cluster.Primary!.SiloAddress.ToParsableString();

        // Gather every leadership on one silo, much faster than two balancing rounds. A leader refuses while its target is
        // not yet caught up or a transfer (the balancer's) is under way, and the balancer may move a leadership between
        // the description and the call: each partition is asked again, from a fresh description, until it is led there.
        foreach (var partition in described.Partitions)
        {
            var slot = partition.Replicas.Single(r => r.Silo == target).Replica;
            var deadlineForPartition = DateTime.UtcNow + TimeSpan.FromSeconds(30);
            var current = partition;
            while (current.LeaderReplica != slot)
            {
                Assert.True(DateTime.UtcNow < deadlineForPartition, $"partition {partition.Partition}'s leader did not hand over to replica {slot} within 30 s");
                if (current.LeaderReplica >= 0)
                {
                    var leader = grains.GetGrain<IPartitionReplicaGrain>(current.Replicas.Single(r => r.Replica == current.LeaderReplica).Key);
                    if (await leader.HandLeadershipToAsync(slot))
                    {
                        break;
                    }
                }

                await Task.Delay(100);
                current = (await admin.DescribeLogAsync(log.Name)).Partitions.Single(p => p.Partition == partition.Partition);
            }
        }

        var gathered = await PartitionCalls.WaitForAsync(
            admin, log.Name, d => d.Partitions.Count(p => p.LeaderSilo == target) >= Partitions - 2, "the leaderships gathered on one silo");
        Assert.True(gathered.Partitions.Count(p => p.LeaderSilo == target) >= Partitions - 2);

        await BalancedAsync(grains, admin, log.Name);

        // Every partition still appends, and every replica holds exactly what was acknowledged.
        var acked = Enumerable.Range(0, Partitions).Select(_ => new List<(string, AppendAck)>()).ToArray();
        var unknown = Enumerable.Range(0, Partitions).Select(_ => new List<string>()).ToArray();
        await PartitionCalls.AppendToEachAsync(grains, log, "balanced", acked, unknown);
        await PartitionCalls.CheckEveryReplicaAsync(grains, log, acked, unknown);
    }

    [Fact]
    public async Task A_drained_silo_hands_off_every_leadership_gets_none_while_drained_and_gets_its_share_once_undrained()
    {
        var grains = _fixture.Cluster.Client;
        var admin = grains.GetGrain<IPyralogAdminGrain>(0);
        var log = await admin.CreateLogAsync("drained", Partitions, 3);
        await PartitionCalls.WaitForAsync(admin, log.Name, d => d.Partitions.All(PartitionCalls.AllLeadOrFollow), "every partition led");
        var silo = _fixture.Cluster.SecondarySilos[0].SiloAddress;
        var address = silo.ToParsableString();

        // Balanced first, so no balancer moves a leadership between this count and the drain: then the drain reports
        // exactly the leaderships the silo held (its partitions' and the metadata group's, when it leads that).
        var ledBefore = (await BalancedAsync(grains, admin, log.Name))[address];
        Assert.True(ledBefore > 0, "a balanced silo leads 4 or 5 groups");

        var unknown = await Assert.ThrowsAsync<ArgumentException>(() => admin.DrainSiloAsync("127.0.0.9:1", true));
        Assert.StartsWith("no active silo is '127.0.0.9:1' (by address, endpoint or name); active: ", unknown.Message);
        Assert.Contains(address, unknown.Message);

        // Named by its endpoint; it hands off everything it leads before the call returns.
        var drained = await admin.DrainSiloAsync(silo.Endpoint.ToString(), true);
        Assert.Equal(new SiloDrainResult(address, true, ledBefore, 0, Partitions), drained);
        Assert.Equal([address], await admin.DrainingSilosAsync());
        var counts = await PartitionCalls.LeadersPerSiloAsync(grains, admin, log.Name);
        Assert.Equal(0, counts.GetValueOrDefault(address));

        // Balancing evens the other two out and never hands the drained silo a leadership: 13 groups, 6 or 7 each.
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        while (!(counts.GetValueOrDefault(address) == 0 && counts.Count == 2 && counts.Values.All(c => c is 6 or 7)))
        {
            Assert.True(DateTime.UtcNow < deadline, $"not balanced over the two other silos within 60 s: {string.Join(", ", counts.Select(c => $"{c.Key}={c.Value}"))}");
            await Task.Delay(200);
            counts = await PartitionCalls.LeadersPerSiloAsync(grains, admin, log.Name);
            Assert.Equal(0, counts.GetValueOrDefault(address));
        }

        // Undrained, it is given its share again.
        var undrained = await admin.DrainSiloAsync(address, false);
        Assert.Equal(new SiloDrainResult(address, false, 0, 0, Partitions), undrained);
        Assert.Empty(await admin.DrainingSilosAsync());
        deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        while (!(counts.Count == 3 && counts.Values.All(c => c is 4 or 5)))
        {
            Assert.True(DateTime.UtcNow < deadline, $"not balanced again within 60 s: {string.Join(", ", counts.Select(c => $"{c.Key}={c.Value}"))}");
            await Task.Delay(200);
            counts = await PartitionCalls.LeadersPerSiloAsync(grains, admin, log.Name);
        }
    }

    /// <summary>
    /// Waits (60 s at most) until the 13 groups (12 partitions and the metadata group) are led 4 or 5 on each of the three
    /// silos; returns how many each leads.
    /// </summary>
    private static async Task<Dictionary<string, int>> BalancedAsync(IClusterClient grains, IPyralogAdminGrain admin, string logName)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        while (true)
        {
            var counts = await PartitionCalls.LeadersPerSiloAsync(grains, admin, logName);
            if (counts.Count == 3 && counts.Values.All(c => c is 4 or 5) && counts.Values.Sum() == Partitions + 1)
            {
                return counts;
            }

            Assert.True(DateTime.UtcNow < deadline, $"not balanced within 60 s: {string.Join(", ", counts.Select(c => $"{c.Key}={c.Value}"))}");
            await Task.Delay(200);
        }
    }

    private sealed class BalancingFixture() : PyralogClusterFixture(3)
    {
        protected override void Configure(TestClusterBuilder builder) => builder.AddSiloBuilderConfigurator<Balancing>();
    }

    private sealed class Balancing : ISiloConfigurator
    {
        public void Configure(ISiloBuilder siloBuilder) =>
            siloBuilder.Services.Configure<PyralogOptions>(o => o.Replication.LeaderBalanceInterval = TimeSpan.FromSeconds(2));
    }
}
