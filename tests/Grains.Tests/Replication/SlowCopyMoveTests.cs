using Microsoft.Extensions.DependencyInjection;
using Orleans.TestingHost;
using Pyralog.Grains.Hosting;
using Pyralog.Grains.Interfaces.Logs;
using Pyralog.Grains.Tests.Hosting;
using Pyralog.Grains.Tests.Partitions;

namespace Pyralog.Grains.Tests.Replication;

/// <summary>
/// A move whose copy takes longer than <c>ReplicaMoveTimeout</c> finishes as long as it copies: a partition of 12 MiB
/// sent to its new replica at 1 MiB/s (twelve seconds) moves off a drained silo under a three-second timeout. Abandoned
/// at the timeout, each round copied it again from nothing and the drain never ended. Own cluster (four silos, a
/// throttled catch-up).
/// </summary>
public sealed class SlowCopyMoveTests : IAsyncLifetime
{
    private const string LogName = "slow-copy";
    private const int Records = 48;
    private readonly SlowCopyFixture _fixture = new();

    public Task InitializeAsync() => _fixture.InitializeAsync();

    public Task DisposeAsync() => _fixture.DisposeAsync();

    [Fact]
    public async Task A_move_whose_copy_outlasts_the_move_timeout_finishes_while_it_copies()
    {
        var grains = _fixture.Cluster.Client;
        var admin = grains.GetGrain<IPyralogAdminGrain>(0);
        var log = await admin.CreateLogAsync(LogName, 1, 3);
        var leader = await PartitionCalls.LeaderAsync(grains, log, 0);
        for (var i = 0; i < Records; i++)
        {
            var value = new byte[256 << 10];
            value[0] = (byte)i;
            Assert.Equal((ulong)i, (await leader.AppendAsync([new ProducerRecord(null, value)])).FirstOffset);
        }

        var placed = (await PartitionCalls.WaitForAsync(admin, LogName, d => d.Partitions.All(PartitionCalls.AllLeadOrFollow), "the partition leading and following")).Partitions[0];
        var drained = placed.Replicas.First(r => r.Replica != placed.LeaderReplica).Silo;
        Assert.True((await admin.DrainSiloAsync(SiloAddress.FromParsableString(drained).Endpoint.ToString(), drain: true)).Draining);

        var moved = (await PartitionCalls.WaitForAsync(admin, LogName,
            d => d.Partitions[0].Replicas.Length == 3 && d.Partitions[0].Replicas.All(r => r.Silo != drained) && PartitionCalls.AllLeadOrFollow(d.Partitions[0]),
            "the drained silo's replica moved to the fourth silo")).Partitions[0];
        var newcomer = moved.Replicas.Single(r => placed.Replicas.All(p => p.Key != r.Key));
        var records = await PartitionCalls.ReadAllAsync(grains.GetGrain<IPartitionReplicaGrain>(newcomer.Key), Records);
        Assert.Equal(Enumerable.Range(0, Records).Select(i => (byte)i), records.Select(r => r.Value[0]));
        Assert.All(records, r => Assert.Equal(256 << 10, r.Value.Length));
    }

    private sealed class SlowCopyFixture() : PyralogClusterFixture(4)
    {
        protected override void Configure(TestClusterBuilder builder) => builder.AddSiloBuilderConfigurator<SlowCopy>();
    }

    private sealed class SlowCopy : ISiloConfigurator
    {
        public void Configure(ISiloBuilder siloBuilder) =>
            siloBuilder.Services.Configure<PyralogOptions>(o =>
            {
                o.Replication.ReplicaMoveInterval = TimeSpan.FromMilliseconds(500);
                o.Replication.ReplicaMoveTimeout = TimeSpan.FromSeconds(3);
                o.Replication.CatchUpBytesPerSecond = 1 << 20; // the least it takes
            });
    }
}
