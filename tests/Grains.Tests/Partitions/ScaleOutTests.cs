using Pyralog.Grains.Interfaces.Logs;
using Pyralog.Grains.Placement;

namespace Pyralog.Grains.Tests.Partitions;

/// <summary>
/// A fourth silo joins a three-silo cluster. The placement rule now names it home for some replicas, but they hold
/// their data where they run and the joining silo holds none of it: moving would rejoin them empty (two of one group at
/// once would leave it one voter of three, unable to elect), so they stay, every group keeps leading and following on
/// its three silos without a new election, and nothing acknowledged is lost. (Moving replicas onto a joining silo one at
/// a time, to balance the cluster, is not built yet.) Own cluster (it adds a silo).
/// </summary>
public class ScaleOutTests : IAsyncLifetime
{
    private const string LogName = "scale-out";
    private const int Partitions = 12;

    private readonly PartitionClusterFixture _fixture = new();

    public Task InitializeAsync() => _fixture.InitializeAsync();

    public Task DisposeAsync() => _fixture.DisposeAsync();

    [Fact]
    public async Task A_joining_silo_does_not_take_replicas_off_their_data_or_wedge_a_group()
    {
        var cluster = _fixture.Cluster;
        var grains = cluster.Client;
        var admin = grains.GetGrain<IPyralogAdminGrain>(0);
        var log = await admin.CreateLogAsync(LogName, Partitions, 3);
        var acked = Enumerable.Range(0, Partitions).Select(_ => new List<(string Value, AppendAck Ack)>()).ToArray();
        var unknown = Enumerable.Range(0, Partitions).Select(_ => new List<string>()).ToArray();
        await PartitionCalls.AppendToEachAsync(grains, log, "before", acked, unknown);
        var before = await PartitionCalls.WaitForAsync(admin, LogName, d => d.Partitions.All(PartitionCalls.AllLeadOrFollow), "every group leading and following");

        var joined = await cluster.StartAdditionalSiloAsync();
        var silos = cluster.Silos.Select(s => s.SiloAddress).ToList();
        var newHomes = before.Partitions.SelectMany(p => p.Replicas)
            .Count(r => ReplicaPlacementDirector.Home(ReplicaGrainKey.Parse(r.Key), silos).Equals(joined.SiloAddress));
        Assert.True(newHomes > 0, "with 36 replicas the rule names the joining silo home for some (else this test shows nothing)");

        // Homecoming checks every replica on the membership change and again each half second while one was asked.
        await Task.Delay(TimeSpan.FromSeconds(3));
        await PartitionCalls.AppendToEachAsync(grains, log, "after", acked, unknown);
        var after = await PartitionCalls.WaitForAsync(admin, LogName, d => d.Partitions.All(PartitionCalls.AllLeadOrFollow), "every group leading and following");
        var where = before.Partitions.SelectMany(p => p.Replicas).ToDictionary(r => r.Key, r => r.Silo);
        Assert.All(after.Partitions.SelectMany(p => p.Replicas), r => Assert.Equal(where[r.Key], r.Silo));
        Assert.Equal(before.Partitions.Select(p => p.Epoch), after.Partitions.Select(p => p.Epoch)); // no election
        await PartitionCalls.CheckEveryReplicaAsync(grains, log, acked, unknown);
    }
}
