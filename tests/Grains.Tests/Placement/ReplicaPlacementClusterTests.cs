using Pyralog.Grains.Interfaces.Logs;
using Orleans.TestingHost;
using Pyralog.Grains.Placement;

namespace Pyralog.Grains.Tests.Placement;

/// <summary>The director in a real three-silo Orleans cluster.</summary>
public sealed class ReplicaPlacementClusterTests : IAsyncLifetime
{
    private TestCluster _cluster = null!;

    public async Task InitializeAsync()
    {
        var builder = new TestClusterBuilder(3);
        builder.AddSiloBuilderConfigurator<SiloConfigurator>();
        _cluster = builder.Build();
        await _cluster.DeployAsync();
    }

    public async Task DisposeAsync() => await _cluster.DisposeAsync();

    [Fact]
    public async Task The_replicas_of_a_group_activate_on_distinct_silos_where_the_rule_says()
    {
        var silos = _cluster.GetActiveSilos().Select(s => s.SiloAddress).ToArray();
        Assert.Equal(3, silos.Length);

        var keys = Enumerable.Range(0, 3).Select(replica => new ReplicaGrainKey(7, 0, replica)).ToArray();
        var placed = await Task.WhenAll(keys.Select(key =>
            _cluster.Client.GetGrain<IReplicaProbeGrain>(ReplicaGrainKey.Format(key)).GetSiloAsync()));

        Assert.Equal(3, placed.Distinct().Count());
        Assert.Equal(keys.Select(key => ReplicaPlacementDirector.Place(key, silos)), placed);
    }

    private sealed class SiloConfigurator : ISiloConfigurator
    {
        public void Configure(ISiloBuilder siloBuilder) => ReplicaPlacement.AddTo(siloBuilder.Services);
    }
}
