using Pyralog.Grains.Interfaces.Logs;
using Pyralog.Grains.Tests.Hosting;

namespace Pyralog.Grains.Tests.Partitions;

/// <summary>
/// A follower behind the compaction point catches up by snapshot: lost with its silo, its replacement (a new
/// incarnation without data on a survivor) is sent the snapshot and the entries after it; when the silo comes back on
/// its old data (behind the compaction point) the replica returns home and is brought up to date the same way.
/// Every copy then reads the same records from the same first offset. Own cluster (it kills and restarts a silo).
/// </summary>
public sealed class RetentionCatchUpTests : IAsyncLifetime
{
    private readonly RetentionClusterFixture _fixture = new();

    public Task InitializeAsync() => _fixture.InitializeAsync();

    public Task DisposeAsync() => _fixture.DisposeAsync();

    [Fact]
    public async Task A_follower_behind_the_compaction_point_catches_up_by_snapshot_and_serves_reads_from_the_first_offset()
    {
        var cluster = _fixture.Cluster;
        var grains = cluster.Client;
        var admin = grains.GetGrain<IPyralogAdminGrain>(0);
        var log = await admin.CreateLogAsync("ret-catchup", 1, 3, new LogSettings { RetentionBytes = LogSettings.MinRetentionBytes });
        var leader = await PartitionCalls.LeaderAsync(grains, log, 0);
        for (var i = 0; i < 3; i++)
        {
            await leader.AppendAsync([RetentionTests.Big(i)]);
        }

        var replicas = Enumerable.Range(0, 3).Select(r => grains.GetGrain<IPartitionReplicaGrain>(log.ReplicaKey(0, r))).ToArray();
        var statuses = await RetentionTests.WaitAsync(replicas, s => s.All(x => x.NextOffset == 3), "every replica holding the first records");

        // A follower dies with its silo (not the primary: it holds the test membership table); the rest is appended
        // without it, and retention compacts the others' logs past everything it had.
        var lost = statuses.First(s => s.Role == ReplicaRole.Follower && s.Silo != cluster.Primary!.SiloAddress.ToParsableString());
        var lostAt = Array.FindIndex(replicas, r => r.GetPrimaryKeyString() == lost.Key);
        var victim = cluster.Silos.Single(s => s.SiloAddress.ToParsableString() == lost.Silo);
        await cluster.KillSiloAsync(victim);
        await ClusterWaits.DeclaredDeadAsync(cluster, victim.SiloAddress); // the appends below test catch-up, not the moments before the cluster knows the silo is dead
        for (var i = 3; i < 20; i++)
        {
            await PartitionCalls.AppendOrDescribeAsync(leader, [RetentionTests.Big(i)], replicas);
        }

        var kept = (int)(LogSettings.MinRetentionBytes / RetentionTests.EntryBytes);
        var first = (ulong)(20 - kept);
        var caughtUp = await RetentionTests.WaitAsync(replicas,
            s => s.All(x => x.FirstOffset == first && x.NextOffset == 20 && x.SnapshotIndex > 0) &&
                 s[lostAt].Incarnation != lost.Incarnation && s[lostAt].Role == ReplicaRole.Follower,
            "the lost follower replaced elsewhere, restored from the snapshot and caught up");
        Assert.NotEqual(lost.Silo, caughtUp[lostAt].Silo);
        Assert.Equal(first, caughtUp[lostAt].FirstOffset);
        await AssertSameRecordsAsync(replicas, first, kept);

        // Its silo comes back on its old data (three records, all below the compaction point): the replica returns
        // home under its old incarnation, is sent the snapshot again and reads like the others.
        var restarted = await cluster.StartSiloAsync(victim.InstanceNumber, cluster.Options);
        var home = restarted.SiloAddress.ToParsableString();
        await PartitionCalls.AppendOrDescribeAsync(leader, [RetentionTests.Big(20)], replicas); // the first record after the restart: the rest moves on by one entry
        var back = await RetentionTests.WaitAsync(replicas,
            s => s[lostAt].Silo == home && s[lostAt].Incarnation == lost.Incarnation && s[lostAt].Role == ReplicaRole.Follower &&
                 s.All(x => x.FirstOffset == first + 1 && x.NextOffset == 21),
            "the replica home on its old data, brought past the compaction point");
        Assert.True(back[lostAt].SnapshotIndex > 0);
        await AssertSameRecordsAsync(replicas, first + 1, kept);

        // The silo dies and restarts once more: now the replica's data is compacted, and it reopens from its snapshot
        // and the entries after it, then applies what it missed.
        var compacted = back[lostAt];
        await cluster.KillSiloAsync(restarted);
        await ClusterWaits.DeclaredDeadAsync(cluster, restarted.SiloAddress);
        await PartitionCalls.AppendOrDescribeAsync(leader, [RetentionTests.Big(21)], replicas);
        await RetentionTests.WaitAsync(replicas, s => s[lostAt].Incarnation != lost.Incarnation && s.All(x => x.NextOffset == 22),
            "the replica replaced while its silo is down");
        restarted = await cluster.StartSiloAsync(victim.InstanceNumber, cluster.Options);
        home = restarted.SiloAddress.ToParsableString();
        await PartitionCalls.AppendOrDescribeAsync(leader, [RetentionTests.Big(22)], replicas);
        var reopened = await RetentionTests.WaitAsync(replicas,
            s => s[lostAt].Silo == home && s[lostAt].Incarnation == lost.Incarnation && s[lostAt].Role == ReplicaRole.Follower &&
                 s.All(x => x.FirstOffset == first + 3 && x.NextOffset == 23),
            "the replica home again on its compacted data");
        Assert.True(reopened[lostAt].SnapshotIndex >= compacted.SnapshotIndex);
        await AssertSameRecordsAsync(replicas, first + 3, kept);
    }

    private static async Task AssertSameRecordsAsync(IPartitionReplicaGrain[] replicas, ulong first, int count)
    {
        foreach (var replica in replicas)
        {
            var below = await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => replica.ReadAsync(first - 1, 1 << 20));
            Assert.Contains($"the first available offset is {first}", below.Message);
            var records = await PartitionCalls.ReadAllFromAsync(replica, first, first + (ulong)count);
            Assert.Equal(Enumerable.Range((int)first, count).Select(i => (ulong)i), records.Select(r => r.Offset));
            Assert.All(records, r => Assert.Equal(RetentionTests.Big((int)r.Offset).Value, r.Value));
        }
    }
}
