using Microsoft.Extensions.DependencyInjection;
using Orleans.TestingHost;
using Pyralog.Grains.Interfaces.Logs;
using Pyralog.Grains.Metadata;
using Pyralog.Grains.Replication;
using Pyralog.Grains.Tests.Hosting;

namespace Pyralog.Grains.Tests.Metadata;

/// <summary>
/// A cluster's first silo founds the metadata group before the others joined its view: all three replicas prepare on it,
/// and their homes join before the bootstraps arrive. Homecoming must leave them there until the configuration naming their
/// incarnations reached them; gone home, they ran under new incarnations, refused it, and the group was founded by one
/// replica of three, with no leader until the incarnations it named were found again (25 s, failing CI's HomecomingTests).
/// </summary>
public sealed class MetadataFoundingRaceTests : IAsyncLifetime
{
    private readonly FirstSiloAloneFixture _fixture = new();

    public Task InitializeAsync() => _fixture.InitializeAsync();

    public async Task DisposeAsync()
    {
        HeldMetadataBootstraps.Release();
        await _fixture.DisposeAsync();
    }

    [Fact]
    public async Task Replicas_prepared_on_the_first_silo_stay_until_bootstrapped_though_their_homes_joined()
    {
        var cluster = _fixture.Cluster;
        var admin = cluster.Client.GetGrain<IPyralogAdminGrain>(0);
        var listed = admin.ListLogsAsync();
        await HeldMetadataBootstraps.Reached.WaitAsync(TimeSpan.FromSeconds(30));

        await cluster.StartAdditionalSilosAsync(2);
        var first = ((InProcessSiloHandle)cluster.Primary!).SiloHost.Services;
        await ClusterWaits.UntilAsync(() => first.GetRequiredService<IClusterMembershipService>().CurrentSnapshot.Members.Values.Count(m => m.Status == SiloStatus.Active) == 3,
            "the first silo sees three active silos");

        // Homecoming asks them home once the new silos are in its view; asked here too, so the answer is in before the release.
        var grains = first.GetRequiredService<IGrainFactory>();
        for (var r = 0; r < 3; r++)
        {
            await grains.GetGrain<IMetadataReplicaGrain>(ReplicaGrainKey.Of(0, 0, r)).ReturnHomeAsync();
        }

        HeldMetadataBootstraps.Release();
        Assert.Empty(await listed.WaitAsync(TimeSpan.FromSeconds(60)));
        var answers = HeldMetadataBootstraps.Answers;
        Assert.Equal(3, answers.Count);
        Assert.All(answers, a => Assert.True(a.Founded, $"replica {a.Replica} refused the bootstrap: it ran under another incarnation than it prepared with"));

        // Then home, one at a time, as voters: the group ends on three silos, every replica leading or following.
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        PartitionDescription group;
        while (true)
        {
            group = await admin.DescribeMetadataGroupAsync();
            if (group.Replicas.Select(r => r.Silo).Distinct().Count() == 3 && group.Replicas.All(r => r.Role is ReplicaRole.Leader or ReplicaRole.Follower))
            {
                break;
            }

            Assert.True(DateTime.UtcNow < deadline, "the metadata group did not end on three silos: " + string.Join(", ", group.Replicas.Select(r => $"{r.Key}={r.Role}@{r.Silo}")));
            await Task.Delay(100);
        }
    }

    private sealed class FirstSiloAloneFixture() : PyralogClusterFixture(1)
    {
        protected override bool WaitsForMetadataGroup => false; // founding it is what the test is about

        protected override void Configure(TestClusterBuilder builder) => builder.AddSiloBuilderConfigurator<Held>();
    }

    private sealed class Held : ISiloConfigurator
    {
        public void Configure(ISiloBuilder siloBuilder) => siloBuilder.AddOutgoingGrainCallFilter<HeldMetadataBootstraps>();
    }
}
