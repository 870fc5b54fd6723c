using Pyralog.Client.Cluster;
using Pyralog.Grains.Interfaces.Logs;

namespace Pyralog.Client.Tests.Cluster;

/// <summary>The cluster status of the shared 3-silo cluster: every silo, every replica and leader (the metadata group's too) counted where it runs.</summary>
[Collection(ClientClusterCollection.Name)]
public sealed class ClusterStatusClusterTests(ClientClusterFixture fixture)
{
    [Fact]
    public async Task Every_silo_is_listed_with_the_replicas_and_leaders_the_log_descriptions_place_on_it()
    {
        var cluster = fixture.Cluster;
        var admin = cluster.Client.GetGrain<IPyralogAdminGrain>(0);
        await admin.CreateLogAsync("status", partitions: 3, replicationFactor: 3);

        // Leaders settle after creation: read until two readings agree with the descriptions between them.
        ClusterStatus status;
        Dictionary<string, (int Replicas, int Leaders)> expected;
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (true)
        {
            status = await ClusterStatusReader.ReadAsync(cluster.Client);
            expected = await CountAsync(admin);
            if (status.Notes.Count == 0 && expected.All(e => status.Silos.Any(s => s.Address == e.Key && (s.Replicas, s.Leaders) == e.Value)))
            {
                break;
            }

            Assert.True(DateTime.UtcNow < deadline, $"the status never matched the descriptions: {string.Join("; ", status.Notes)}");
            await Task.Delay(100);
        }

        Assert.Equal(
            cluster.Silos.Select(s => s.SiloAddress.ToParsableString()).Order(StringComparer.Ordinal),
            status.Silos.Select(s => s.Address));
        Assert.All(status.Silos, s => Assert.Equal("Active", s.Status));

        // The metadata group, described replica by replica: a leader and three voters on the three silos.
        var metadata = await admin.DescribeMetadataGroupAsync();
        Assert.True(metadata.LeaderReplica >= 0, "the metadata group has no leader");
        Assert.Equal(["0/0/0", "0/0/1", "0/0/2"], metadata.Replicas.Select(r => r.Key));
        Assert.Single(metadata.Replicas, r => r.Role == ReplicaRole.Leader);
        Assert.All(metadata.Replicas, r => Assert.True(r.Role is ReplicaRole.Leader or ReplicaRole.Follower, $"{r.Key} is {r.Role}"));
        Assert.Equal(3, metadata.Replicas.Select(r => r.Silo).Distinct().Count());
        Assert.All(status.Silos, s => Assert.NotEmpty(s.Name));

        // The new log's three replicas of each partition sit on three distinct silos: at least 3 replicas on each.
        Assert.All(status.Silos, s => Assert.True(s.Replicas >= 3, $"{s.Address} hosts {s.Replicas} replicas"));
        var leaders = status.Silos.Select(s => s.Leaders).ToArray();
        var replicas = status.Silos.Select(s => s.Replicas).ToArray();
        Assert.Equal(
            replicas.All(r => Math.Abs(r - replicas.Average()) <= 1) && leaders.All(l => Math.Abs(l - leaders.Average()) <= 1),
            status.Balanced);
    }

    private static async Task<Dictionary<string, (int Replicas, int Leaders)>> CountAsync(IPyralogAdminGrain admin)
    {
        var counts = new Dictionary<string, (int Replicas, int Leaders)>(StringComparer.Ordinal);
        foreach (var log in await admin.ListLogsAsync())
        {
            foreach (var partition in (await admin.DescribeLogAsync(log.Name)).Partitions)
            {
                foreach (var replica in partition.Replicas)
                {
                    var (r, l) = counts.GetValueOrDefault(replica.Silo);
                    counts[replica.Silo] = (r + 1, l + (replica.Role == ReplicaRole.Leader ? 1 : 0));
                }
            }
        }

        // The metadata group's leadership counts for its silo; its replicas do not.
        if ((await admin.DescribeMetadataGroupAsync()).LeaderSilo is { } metadataLeader)
        {
            var (r, l) = counts.GetValueOrDefault(metadataLeader);
            counts[metadataLeader] = (r, l + 1);
        }

        return counts;
    }
}
