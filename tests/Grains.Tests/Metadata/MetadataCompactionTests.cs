using Microsoft.Extensions.DependencyInjection;
using Orleans.TestingHost;
using Pyralog.Grains.Hosting;
using Pyralog.Grains.Interfaces.Logs;
using Pyralog.Grains.Metadata;
using Pyralog.Grains.Replication;
using Pyralog.Grains.Tests.Hosting;
using Pyralog.Grains.Tests.Partitions;

namespace Pyralog.Grains.Tests.Metadata;

/// <summary>
/// The metadata group compacts its Raft log like a partition: after more than <see cref="MetadataState.SnapshotEveryEntries"/>
/// commands every replica's log starts after a snapshot (in the store too) and holds the same logs as before; a replica
/// lost with its silo is rebuilt elsewhere from the leader's snapshot, and when its silo comes back on data behind the
/// compaction point it is brought up to date the same way; back again on compacted data it reopens from its own
/// snapshot. Each test has its own three silos (one kills and restarts a silo).
/// </summary>
public sealed class MetadataCompactionTests : IAsyncLifetime
{
    private const int Replicas = 3;
    private readonly PyralogClusterFixture _fixture = new(3);
    private int _leader;

    public Task InitializeAsync() => _fixture.InitializeAsync();

    public Task DisposeAsync() => _fixture.DisposeAsync();

    [Fact]
    public async Task Many_commands_compact_every_replicas_log_and_leave_the_same_logs()
    {
        var cluster = _fixture.Cluster;
        var grains = cluster.Client;
        var admin = grains.GetGrain<IPyralogAdminGrain>(0);
        await admin.CreateLogAsync("real-a", 1, 3);
        await admin.CreateLogAsync("real-b", 2, 1, new LogSettings { RetentionAge = TimeSpan.FromHours(1), RetentionBytes = 5L << 20 });
        var expected = (await QueryAsync(grains)).ToDictionary(l => l.Info.Name);
        Assert.Equal(["real-a", "real-b"], expected.Keys.Order());
        var replicas = MetadataReplicas(grains);
        Assert.All(await Task.WhenAll(replicas.Select(r => r.GetStatusAsync())), s => Assert.Equal(0, s.SnapshotIndex));

        await RunCommandsAsync(grains, "m-", 200, expected);

        var statuses = await WaitCaughtUpAsync(replicas, s => s.All(x => x.SnapshotIndex > 0), "every replica compacted");
        foreach (var s in statuses)
        {
            // Compacted at most SnapshotEveryEntries - 1 entries behind what it applied (else it would take another).
            Assert.InRange(s.AppliedIndex - s.SnapshotIndex, 0, MetadataState.SnapshotEveryEntries - 1);
        }

        await AssertSameLogsAsync(grains, replicas, expected);
        Assert.Equal(expected.Keys.Order(StringComparer.Ordinal), (await admin.ListLogsAsync()).Select(l => l.Name));

        // The store log's prefix went with it on every replica's silo.
        foreach (var s in statuses)
        {
            var silo = cluster.Silos.Single(h => h.SiloAddress.ToParsableString() == s.Silo);
            var store = ((InProcessSiloHandle)silo).SiloHost.Services.GetRequiredService<SiloStore>().Store;
            Assert.True(ReplicaGrainKey.TryParse(s.Key, out var key));
            Assert.Equal((ulong)s.SnapshotIndex + 1, store.GetLogBounds(ReplicaKv.StoreLog(0, 0, key.Replica)).First);
        }
    }

    [Fact]
    public async Task A_replica_behind_the_compaction_point_is_restored_from_the_snapshot_and_holds_the_same_logs()
    {
        var cluster = _fixture.Cluster;
        var grains = cluster.Client;
        var admin = grains.GetGrain<IPyralogAdminGrain>(0);
        await admin.CreateLogAsync("real-a", 1, 3);
        var replicas = MetadataReplicas(grains);
        var statuses = await WaitCaughtUpAsync(replicas, _ => true, "the founded group");

        // A follower dies with its silo (not the primary: it holds the test membership table); the group goes on
        // without it and compacts past everything it had.
        var lost = statuses.First(s => s.Role == ReplicaRole.Follower && s.Silo != cluster.Primary!.SiloAddress.ToParsableString());
        var lostAt = Array.FindIndex(replicas, r => r.GetPrimaryKeyString() == lost.Key);
        var victim = cluster.Silos.Single(s => s.SiloAddress.ToParsableString() == lost.Silo);
        _leader = statuses.Single(s => s.Role == ReplicaRole.Leader).LeaderReplica; // never ask the dead silo
        await cluster.KillSiloAsync(victim);
        await ClusterWaits.DeclaredDeadAsync(cluster, victim.SiloAddress); // calls before then may wait out Orleans' response timeout
        var expected = (await QueryAsync(grains)).ToDictionary(l => l.Info.Name);
        await RunCommandsAsync(grains, "m-", 200, expected);

        var rebuilt = await WaitCaughtUpAsync(replicas,
            s => s[lostAt].Incarnation != lost.Incarnation && s[lostAt].Role == ReplicaRole.Follower && s.All(x => x.SnapshotIndex > lost.LastIndex),
            "the lost replica replaced elsewhere and restored from the snapshot");
        Assert.NotEqual(lost.Silo, rebuilt[lostAt].Silo);
        await AssertSameLogsAsync(grains, replicas, expected);

        // Its silo comes back on its old data (all of it below the compaction point): the replica returns home under its
        // old incarnation, is sent the snapshot and holds the same logs again.
        var restarted = await cluster.StartSiloAsync(victim.InstanceNumber, cluster.Options);
        var home = restarted.SiloAddress.ToParsableString();
        await RunCommandsAsync(grains, "back-", 4, expected);
        var back = await WaitCaughtUpAsync(replicas,
            s => s[lostAt].Silo == home && s[lostAt].Incarnation == lost.Incarnation && s[lostAt].Role == ReplicaRole.Follower,
            "the replica home on its old data, brought past the compaction point");
        Assert.True(back[lostAt].SnapshotIndex > lost.LastIndex);
        await AssertSameLogsAsync(grains, replicas, expected);

        // Once more: now its data is compacted, and it reopens from its own snapshot and the entries after it.
        var compacted = back[lostAt];
        await cluster.KillSiloAsync(restarted);
        await ClusterWaits.DeclaredDeadAsync(cluster, restarted.SiloAddress);
        await RunCommandsAsync(grains, "down-", 4, expected);
        await WaitCaughtUpAsync(replicas, s => s[lostAt].Incarnation != lost.Incarnation, "the replica replaced while its silo is down");
        restarted = await cluster.StartSiloAsync(victim.InstanceNumber, cluster.Options);
        home = restarted.SiloAddress.ToParsableString();
        await RunCommandsAsync(grains, "again-", 4, expected);
        var reopened = await WaitCaughtUpAsync(replicas,
            s => s[lostAt].Silo == home && s[lostAt].Incarnation == lost.Incarnation && s[lostAt].Role == ReplicaRole.Follower,
            "the replica home again on its compacted data");
        Assert.True(reopened[lostAt].SnapshotIndex >= compacted.SnapshotIndex);
        await AssertSameLogsAsync(grains, replicas, expected);
    }

    private static IMetadataReplicaGrain[] MetadataReplicas(IGrainFactory grains) =>
        [.. Enumerable.Range(0, Replicas).Select(r => grains.GetGrain<IMetadataReplicaGrain>(ReplicaGrainKey.Of(0, 0, r)))];

    /// <summary>Waits until <paramref name="condition"/> holds and every replica applied all the leader committed.</summary>
    private static Task<ReplicaStatus[]> WaitCaughtUpAsync(IMetadataReplicaGrain[] replicas, Func<ReplicaStatus[], bool> condition, string what) =>
        RetentionTests.WaitAsync(replicas,
            s => s.Count(x => x.Role == ReplicaRole.Leader) == 1 && s.Single(x => x.Role == ReplicaRole.Leader) is var leader &&
                 s.All(x => x.AppliedIndex == leader.CommitIndex && x.Role is ReplicaRole.Leader or ReplicaRole.Follower) && condition(s),
            what);

    /// <summary>Every replica holds exactly <paramref name="expected"/>, and so does a linearizable read at the leader.</summary>
    private async Task AssertSameLogsAsync(IGrainFactory grains, IMetadataReplicaGrain[] replicas, Dictionary<string, MetadataLog> expected)
    {
        MetadataStateTests.AssertSameLogs(expected.Values, await QueryAsync(grains));
        foreach (var replica in replicas)
        {
            MetadataStateTests.AssertSameLogs(expected.Values, await replica.AppliedLogsAsync());
        }
    }

    /// <summary>
    /// Commits <paramref name="count"/> creates (named <paramref name="prefix"/>000…, varied shapes and settings), then
    /// on them a delete, an activation or the incarnations, three of every four, in waves of concurrent proposals;
    /// <paramref name="expected"/> follows what the leader answered.
    /// </summary>
    private async Task RunCommandsAsync(IGrainFactory grains, string prefix, int count, Dictionary<string, MetadataLog> expected)
    {
        const int wave = 16;
        var created = new MetadataLog[count];
        for (var from = 0; from < count; from += wave)
        {
            var batch = Enumerable.Range(from, Math.Min(wave, count - from)).ToArray();
            var results = await Task.WhenAll(batch.Select(i => CommitAsync(grains, MetadataCommand.Create($"{prefix}{i:D3}", 1 + i % 3, 1 + i % 3,
                i % 2 == 0 ? new LogSettings() : new LogSettings { Durability = LogDurability.OsCache, RetentionAge = TimeSpan.FromSeconds(i + 1), RetentionBytes = (i + 1L) << 20 }))));
            for (var j = 0; j < batch.Length; j++)
            {
                created[batch[j]] = results[j].Log!;
                expected[results[j].Log!.Info.Name] = results[j].Log!;
            }
        }

        var changes = Enumerable.Range(0, count).Where(i => i % 4 != 3).ToArray();
        for (var from = 0; from < changes.Length; from += wave)
        {
            var batch = changes[from..Math.Min(from + wave, changes.Length)];
            var results = await Task.WhenAll(batch.Select(i => CommitAsync(grains, (i % 4) switch
            {
                0 => new MetadataCommand { Kind = "delete", Name = created[i].Info.Name },
                1 => new MetadataCommand { Kind = "activate", LogId = created[i].Info.Id },
                _ => new MetadataCommand
                {
                    Kind = "incarnations", LogId = created[i].Info.Id,
                    Incarnations = [.. Enumerable.Range(0, created[i].Info.Partitions).Select(p => Enumerable.Range(0, created[i].Info.ReplicationFactor).Select(r => 1000L * i + 10 * p + r).ToArray())],
                },
            })));
            for (var j = 0; j < batch.Length; j++)
            {
                if (batch[j] % 4 == 0)
                {
                    Assert.True(expected.Remove(results[j].Log!.Info.Name));
                }
                else
                {
                    expected[results[j].Log!.Info.Name] = results[j].Log!;
                }
            }
        }
    }

    private async Task<MetadataResult> CommitAsync(IGrainFactory grains, MetadataCommand command)
    {
        var encoded = command.Encode();
        var result = await AtLeaderAsync(grains, replica => replica.ProposeAsync(encoded));
        Assert.Null(result.Error);
        Assert.NotNull(result.Log);
        return result;
    }

    /// <summary>Every log, read linearizably at the leader.</summary>
    private Task<MetadataLog[]> QueryAsync(IGrainFactory grains) => AtLeaderAsync(grains, replica => replica.QueryAsync());

    /// <summary>Runs <paramref name="call"/> at the metadata leader, following NotLeader hints (nothing was done then).</summary>
    private async Task<T> AtLeaderAsync<T>(IGrainFactory grains, Func<IMetadataReplicaGrain, Task<T>> call)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (true)
        {
            var slot = _leader;
            try
            {
                return await call(grains.GetGrain<IMetadataReplicaGrain>(ReplicaGrainKey.Of(0, 0, slot)));
            }
            catch (NotLeaderException e) when (DateTime.UtcNow < deadline)
            {
                _leader = e.LeaderReplicaKey is { } key && ReplicaGrainKey.TryParse(key, out var leader) ? leader.Replica : (slot + 1) % Replicas;
            }

            await Task.Delay(20);
        }
    }
}
