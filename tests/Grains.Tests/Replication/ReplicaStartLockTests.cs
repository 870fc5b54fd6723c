using Orleans.Core.Internal;
using Orleans.TestingHost;
using Pyralog.Grains.Interfaces.Logs;
using Pyralog.Grains.Metadata;
using Pyralog.Grains.Tests.Hosting;
using Pyralog.Grains.Tests.Partitions;

namespace Pyralog.Grains.Tests.Replication;

/// <summary>
/// Replica grains that activate on the data they hold (as stand-ins do after a silo died) run no call while Orleans holds
/// their activation's start lock: two sibling replicas that did so each waited for the other's lock forever, and the silo
/// stopped answering (see ReplicaGrain's design comment). One silo of its own, with <see cref="StartLockProbe"/> on every
/// call into a replica grain. Here Orleans' activation itself awaits the grain directory, so the start lock is left
/// before OnActivateAsync runs with or without the replica's own yield; the check guards the property on this path, and
/// the dump of the deadlocked silo is what showed the other (an activation that completed inside its start).
/// </summary>
public sealed class ReplicaStartLockTests : IAsyncLifetime
{
    private const string LogName = "relocking";
    private const int Partitions = 4;
    private readonly ProbedFixture _fixture = new();

    public Task InitializeAsync() => _fixture.InitializeAsync();

    public Task DisposeAsync() => _fixture.DisposeAsync();

    [Fact]
    public async Task Replicas_reactivated_on_their_data_take_no_call_under_the_activation_start_lock()
    {
        var grains = _fixture.Cluster.Client;
        var admin = grains.GetGrain<IPyralogAdminGrain>(0);
        var log = await admin.CreateLogAsync(LogName, Partitions, 1);
        var (acked, unknown) = PartitionCalls.EmptyHistory(Partitions);
        await PartitionCalls.AppendToEachAsync(grains, log, "before", acked, unknown);

        // Every replica (the partitions' and the metadata group's) deactivates and comes back on its data, three times.
        var replicas = Enumerable.Range(0, Partitions).Select(p => (IRaftReplicaGrain)grains.GetGrain<IPartitionReplicaGrain>(log.ReplicaKey(p, 0)))
            .Append(grains.GetGrain<IMetadataReplicaGrain>(ReplicaGrainKey.Of(0, 0, 0))).ToList();
        var before = StartLockProbe.Calls;
        for (var round = 0; round < 3; round++)
        {
            foreach (var replica in replicas)
            {
                await replica.Cast<IGrainManagementExtension>().DeactivateOnIdle();
            }

            await PartitionCalls.AppendToEachAsync(grains, log, $"round-{round}", acked, unknown);
        }

        Assert.True(StartLockProbe.Calls - before >= 3 * Partitions, $"only {StartLockProbe.Calls - before} calls reached the replicas");
        Assert.Equal(0, StartLockProbe.UnderStartLock);
        await PartitionCalls.CheckEveryReplicaAsync(grains, (await admin.GetLogAsync(LogName))!, acked, unknown);
    }

    private sealed class ProbedFixture() : PyralogClusterFixture(1)
    {
        protected override void Configure(TestClusterBuilder builder) => builder.AddSiloBuilderConfigurator<Probed>();
    }

    private sealed class Probed : ISiloConfigurator
    {
        public void Configure(ISiloBuilder siloBuilder) => siloBuilder.AddIncomingGrainCallFilter<StartLockProbe>();
    }
}
