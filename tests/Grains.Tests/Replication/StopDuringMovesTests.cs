using Microsoft.Extensions.DependencyInjection;
using Orleans.TestingHost;
using Pyralog.Grains.Hosting;
using Pyralog.Grains.Interfaces.Logs;
using Pyralog.Grains.Metadata;
using Pyralog.Grains.Tests.Hosting;
using Pyralog.Grains.Tests.Partitions;
using Xunit.Abstractions;

namespace Pyralog.Grains.Tests.Replication;

/// <summary>
/// A silo stopped gracefully while the mover's budget is taken by another silo's move waits its turn: one throttled move
/// (a 12 MiB partition at 1 MiB/s, one move at a time) runs off a drained silo when another silo stops. The stopping
/// silo's replicas cannot start moving before it ends; the stop used to take that for "no other silo takes them" after
/// two mover intervals and left with every replica. Own cluster (five silos, a throttled catch-up).
/// </summary>
public sealed class StopDuringMovesTests : IAsyncLifetime
{
    private const int Records = 48;
    private readonly StopFixture _fixture = new();
    private readonly ITestOutputHelper _output;
    private readonly System.Diagnostics.Stopwatch _clock = System.Diagnostics.Stopwatch.StartNew();

    public StopDuringMovesTests(ITestOutputHelper output) => _output = output;

    public Task InitializeAsync() => _fixture.InitializeAsync();

    public Task DisposeAsync() => _fixture.DisposeAsync();

    private void Mark(string what) => _output.WriteLine($"{_clock.Elapsed.TotalSeconds,6:0.0} s  {what}");

    [Fact]
    public async Task A_silo_stopping_while_another_silos_move_runs_waits_for_its_turn_and_moves_its_replicas()
    {
        var cluster = _fixture.Cluster;
        var grains = cluster.Client;
        var admin = grains.GetGrain<IPyralogAdminGrain>(0);
        var big = await admin.CreateLogAsync("big", 1, 3);
        for (var i = 0; i < Records; i++)
        {
            await PartitionCalls.AppendAtLeaderAsync(grains, big, 0, [new ProducerRecord(null, new byte[256 << 10])]);
        }

        var small = await admin.CreateLogAsync("small", 2, 3);
        var (acked, unknown) = PartitionCalls.EmptyHistory(2);
        await PartitionCalls.AppendToEachAsync(grains, small, "before", acked, unknown);
        var bigPlaced = (await PartitionCalls.WaitForAsync(admin, "big", d => PartitionCalls.AllLeadOrFollow(d.Partitions[0]), "big leading and following")).Partitions[0];
        var smallPlaced = await PartitionCalls.WaitForAsync(admin, "small", d => d.Partitions.All(PartitionCalls.AllLeadOrFollow), "small leading and following");

        // Five silos: with one drained and one stopping, three take every partition's replicas. The drained silo holds a
        // replica of "big", the stopping one (not the primary either) one of "small".
        var secondaries = cluster.SecondarySilos.ToList();
        var drained = secondaries.First(s => bigPlaced.Replicas.Any(r => r.Silo == s.SiloAddress.ToParsableString()));
        var stopping = secondaries.First(s => s != drained && smallPlaced.Partitions.Any(p => p.Replicas.Any(r => r.Silo == s.SiloAddress.ToParsableString())));
        Mark($"draining {drained.SiloAddress}, then stopping {stopping.SiloAddress}");

        Assert.True((await admin.DrainSiloAsync(drained.SiloAddress.Endpoint.ToString(), drain: true)).Draining);
        await PartitionCalls.WaitAsync(async () => (await PartitionCalls.MetadataLogAsync(grains, "big")).MoveIn(0) is not null, "the move of big's replica off the drained silo", TimeSpan.FromSeconds(60));
        Mark("big's replica is moving");

        var stoppingEndpoint = stopping.SiloAddress.Endpoint.ToString();
        Assert.True((await PartitionCalls.MetadataLogAsync(grains, "small")).Homes!.CountOn(stoppingEndpoint) > 0);
        await cluster.StopSiloAsync(stopping);
        Mark("stopped");

        var bigAfter = await PartitionCalls.MetadataLogAsync(grains, "big");
        Assert.Null(bigAfter.MoveIn(0)); // it waited for the move ahead of it
        Assert.Equal(0, (await PartitionCalls.MetadataLogAsync(grains, "small")).Homes!.CountOn(stoppingEndpoint)); // and then moved its replicas
        Assert.Equal(0, bigAfter.Homes!.CountOn(stoppingEndpoint));

        // The drained silo may hold a replica of "small" too: its move runs after the stop. The replicas read below are
        // those of the partitions once every move ended (a slot read while its move ends is refused as moved away).
        var drainedEndpoint = drained.SiloAddress.Endpoint.ToString();
        await PartitionCalls.WaitAsync(async () => await PartitionCalls.MetadataLogAsync(grains, "small") is { Moves: null } s && s.Homes!.CountOn(drainedEndpoint) == 0,
            "small's replicas moved off the drained silo", TimeSpan.FromSeconds(90));
        Mark("small off the drained silo");

        // Nothing "small" acknowledged before the stop is lost on any replica, wherever its replicas moved to.
        small = (await admin.GetLogAsync("small"))!;
        await PartitionCalls.AppendToEachAsync(grains, small, "after", acked, unknown);
        await PartitionCalls.CheckEveryReplicaAsync(grains, small, acked, unknown);
    }

    private sealed class StopFixture() : PyralogClusterFixture(5)
    {
        protected override void Configure(TestClusterBuilder builder) => builder.AddSiloBuilderConfigurator<Throttled>();
    }

    private sealed class Throttled : ISiloConfigurator
    {
        public void Configure(ISiloBuilder siloBuilder) =>
            siloBuilder.Services.Configure<PyralogOptions>(o =>
            {
                o.Replication.ReplicaMoveInterval = TimeSpan.FromMilliseconds(500);
                o.Replication.ReplicaMoves = 1;
                o.Replication.MoveOffTimeout = TimeSpan.FromMinutes(2);
                o.Replication.CatchUpBytesPerSecond = 1 << 20; // the least it takes: 12 MiB take 12 s
            });
    }
}
