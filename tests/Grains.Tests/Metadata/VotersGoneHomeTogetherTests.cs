using Microsoft.Extensions.DependencyInjection;
using Orleans.TestingHost;
using Pyralog.Grains.Interfaces.Logs;
using Pyralog.Grains.Metadata;
using Pyralog.Grains.Replication;
using Pyralog.Grains.Tests.Hosting;
using Pyralog.Grains.Tests.Replication;

namespace Pyralog.Grains.Tests.Metadata;

/// <summary>
/// Two voters of the metadata group, founded on the first silo up, go home at once after the other two silos joined: at
/// home each runs as a new incarnation without a log, and the one voter left counts their old incarnations, whose data is
/// still on the first silo, so the group cannot elect. The new incarnations must give way to the incarnations they left
/// (one suffices for a majority): the group elects again with nothing lost. Homecoming lets one voter leave at a time;
/// CI's founding race tests had two go at once, and the group stayed leaderless for good: a home incarnation, holding no
/// configuration, asked no sibling which incarnation its slot counts, counted its empty sibling as "as far along", and
/// while the voter left still led, followed it and never looked. Homecoming is off here: the test moves the two voters.
/// </summary>
public sealed class VotersGoneHomeTogetherTests : IAsyncLifetime
{
    private readonly FirstSiloAloneFixture _fixture = new();

    public Task InitializeAsync() => _fixture.InitializeAsync();

    public Task DisposeAsync() => _fixture.DisposeAsync();

    [Fact]
    public async Task Two_voters_gone_home_at_once_give_way_to_the_incarnations_their_group_counts()
    {
        var cluster = _fixture.Cluster;
        var admin = cluster.Client.GetGrain<IPyralogAdminGrain>(0);
        await admin.CreateLogAsync("before", 1, 1);

        await cluster.StartAdditionalSilosAsync(2);
        var first = ((InProcessSiloHandle)cluster.Primary!).SiloHost.Services;
        await ClusterWaits.UntilAsync(() => cluster.Silos.All(s =>
                ((InProcessSiloHandle)s).SiloHost.Services.GetRequiredService<IClusterMembershipService>().CurrentSnapshot.Members.Values.Count(m => m.Status == SiloStatus.Active) == 3 &&
                ((InProcessSiloHandle)s).SiloHost.Services.GetRequiredService<IClusterManifestProvider>().Current.Silos.Count == 3),
            "every silo sees three active silos");

        // The placement rule now names another silo for two of the three replicas, all on the first silo.
        var replicas = first.GetRequiredService<LocalReplicas>();
        var grains = first.GetRequiredService<IGrainFactory>();
        var before = new Dictionary<string, ReplicaStatus>();
        for (var r = 0; r < 3; r++)
        {
            var key = ReplicaGrainKey.Of(0, 0, r);
            before[key] = await grains.GetGrain<IMetadataReplicaGrain>(key).GetStatusAsync(); // also lets ReplicaContexts see it
        }

        var leaving = before.Keys.Where(k => replicas.BetterSiloElsewhere(ReplicaGrainKey.Parse(k)) is not null).ToArray();
        Assert.Equal(2, leaving.Length);
        var contexts = first.GetRequiredService<ReplicaContexts>();
        foreach (var key in leaving)
        {
            contexts.Of(key).Migrate(requestContext: null);
        }

        await ClusterWaits.UntilAsync(() => replicas.Active.All(a => Array.IndexOf(leaving, a.Key) < 0), "both voters leaving the first silo");

        // The group was quiet (every replica quiesced): a client's read wakes the voter left, which finds its leader gone
        // (or, leading, its quorum) and campaigns, which wakes the new incarnations at home. They give way: the slot runs
        // on the first silo again, as the incarnation the group counts, and the group elects.
        var listed = admin.ListLogsAsync();
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
        while (true)
        {
            var now = await Task.WhenAll(before.Keys.Select(k => grains.GetGrain<IMetadataReplicaGrain>(k).GetStatusAsync()));
            // One that gave way completes a majority; the leader then takes the other in where it runs (at home, as its
            // new incarnation) unless it gave way too.
            if (now.All(r => r.Role is ReplicaRole.Leader or ReplicaRole.Follower) &&
                now.Any(r => Array.IndexOf(leaving, r.Key) >= 0 && r.Incarnation == before[r.Key].Incarnation && r.Silo == before[r.Key].Silo))
            {
                break;
            }

            Assert.True(DateTime.UtcNow < deadline, "the metadata group did not elect again on the incarnations it counts: " +
                string.Join(", ", now.Select(r => $"{r.Key}={r.Role}@{r.Silo} incarnation {r.Incarnation} (was {before[r.Key].Incarnation})")));
            await Task.Delay(100);
        }

        Assert.Equal("before", Assert.Single(await listed).Name);
        await admin.CreateLogAsync("after", 1, 1);
        Assert.Equal(2, (await admin.ListLogsAsync()).Length);
    }

    private sealed class FirstSiloAloneFixture() : PyralogClusterFixture(1)
    {
        protected override void Configure(TestClusterBuilder builder) => builder.AddSiloBuilderConfigurator<ReplicasMovedByTest>();
    }
}
