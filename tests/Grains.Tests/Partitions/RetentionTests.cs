using Pyralog.Grains.Interfaces.Logs;
using Pyralog.Grains.Partitions;

namespace Pyralog.Grains.Tests.Partitions;

/// <summary>
/// Retention on a 3-silo cluster: by size and by age (a fake partition clock), decided by the leader, applied and
/// compacted on every replica; reads below the first retained offset name it; idempotent producers' retries of
/// compacted batches are still answered with their first offsets.
/// </summary>
public sealed class RetentionTests(RetentionClusterFixture fixture) : IClassFixture<RetentionClusterFixture>
{
    private const int BigValueBytes = 100_000;

    [Fact]
    public async Task Retention_by_bytes_drops_the_oldest_entries_on_every_replica_and_reads_below_name_the_first_offset()
    {
        var grains = fixture.Cluster.Client;
        var log = await grains.GetGrain<IPyralogAdminGrain>(0).CreateLogAsync("ret-bytes", 1, 3,
            new LogSettings { RetentionBytes = LogSettings.MinRetentionBytes });
        Assert.Equal(LogSettings.MinRetentionBytes, log.Settings.RetentionBytes);
        var leader = await PartitionCalls.LeaderAsync(grains, log, 0);
        for (var i = 0; i < 20; i++)
        {
            Assert.Equal((ulong)i, (await leader.AppendAsync([Big(i)])).FirstOffset);
        }

        // Each append is one entry of EntryBytes; the partition keeps the newest entries that fit in 1 MiB.
        var kept = (int)(LogSettings.MinRetentionBytes / EntryBytes);
        var first = (ulong)(20 - kept);
        var replicas = Replicas(log);
        var statuses = await WaitAsync(replicas, s => s.All(x => x.FirstOffset == first && x.NextOffset == 20 && x.SnapshotIndex > 0),
            $"every replica retaining from offset {first} and compacted");
        Assert.All(statuses, s => Assert.Equal((ulong)(kept * EntryBytes), s.RetainedBytes));
        Assert.All(statuses, s => Assert.True(s.SnapshotIndex < s.AppliedIndex, $"{s.Key} compacted to {s.SnapshotIndex}, applied {s.AppliedIndex}"));

        foreach (var replica in replicas)
        {
            var below = await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => replica.ReadAsync(first - 1, 1 << 20));
            Assert.Contains($"the first available offset is {first}", below.Message);
            var records = await PartitionCalls.ReadAllFromAsync(replica, first, 20);
            Assert.Equal(Enumerable.Range((int)first, kept).Select(i => (ulong)i), records.Select(r => r.Offset));
            Assert.All(records, r => Assert.Equal(Big((int)r.Offset).Value, r.Value));
        }

        var description = await grains.GetGrain<IPyralogAdminGrain>(0).DescribeLogAsync("ret-bytes");
        Assert.Equal(first, description.Partitions[0].FirstOffset);
        Assert.Equal(LogSettings.MinRetentionBytes, description.Log.Settings.RetentionBytes);
    }

    [Fact]
    public async Task Retention_by_age_drops_records_older_than_the_age_by_the_partition_clock()
    {
        var grains = fixture.Cluster.Client;
        var clock = fixture.Clock;
        var log = await grains.GetGrain<IPyralogAdminGrain>(0).CreateLogAsync("ret-age", 1, 3,
            new LogSettings { RetentionAge = TimeSpan.FromMinutes(1) });
        var leader = await PartitionCalls.LeaderAsync(grains, log, 0);
        var start = clock.GetUtcNow();
        for (var i = 0; i < 3; i++)
        {
            await leader.AppendAsync([PartitionCalls.Rec($"old-{i}")]);
        }

        clock.Advance(TimeSpan.FromSeconds(30));
        await leader.AppendAsync([PartitionCalls.Rec("newer-3")]);
        await leader.AppendAsync([PartitionCalls.Rec("newer-4")]);
        var replicas = Replicas(log);
        await WaitAsync(replicas, s => s.All(x => x.NextOffset == 5), "every replica holding the five records");
        Assert.All(await Task.WhenAll(replicas.Select(r => r.GetStatusAsync())), s => Assert.Equal(0ul, s.FirstOffset)); // none is a minute old

        clock.Advance(TimeSpan.FromSeconds(45)); // the first three are 75 s old, the other two 45 s
        await WaitAsync(replicas, s => s.All(x => x.FirstOffset == 3 && x.SnapshotIndex > 0), "offsets 0-2 dropped everywhere");
        foreach (var replica in replicas)
        {
            var below = await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => replica.ReadAsync(2, 1 << 20));
            Assert.Contains("the first available offset is 3", below.Message);
            Assert.Equal(["newer-3", "newer-4"], (await PartitionCalls.ReadAllFromAsync(replica, 3, 5)).Select(r => System.Text.Encoding.UTF8.GetString(r.Value)));
            Assert.Equal(3ul, await replica.FindOffsetAsync(start));
        }

        clock.Advance(TimeSpan.FromSeconds(20)); // now all five are over a minute old
        await WaitAsync(replicas, s => s.All(x => x.FirstOffset == 5 && x.NextOffset == 5), "every record dropped everywhere");
        Assert.Empty((await leader.ReadAsync(5, 1 << 20)).Records);
        Assert.Equal(5ul, (await leader.AppendAsync([PartitionCalls.Rec("fresh-5")])).FirstOffset);
        await WaitAsync(replicas, s => s.All(x => x.NextOffset == 6), "every replica holding the new record");
        foreach (var replica in replicas)
        {
            Assert.Equal(["fresh-5"], (await PartitionCalls.ReadAllFromAsync(replica, 5, 6)).Select(r => System.Text.Encoding.UTF8.GetString(r.Value)));
        }
    }

    [Fact]
    public async Task A_producer_batch_retried_after_its_entry_was_compacted_is_answered_with_its_first_offsets()
    {
        var grains = fixture.Cluster.Client;
        var log = await grains.GetGrain<IPyralogAdminGrain>(0).CreateLogAsync("ret-producer", 1, 3,
            new LogSettings { RetentionBytes = LogSettings.MinRetentionBytes });
        var leader = await PartitionCalls.LeaderAsync(grains, log, 0);
        const long producer = 0x5eed;
        var firstBatch = new ProducerBatch(producer, 0, [PartitionCalls.Rec("p0"), PartitionCalls.Rec("p1")]);
        var secondBatch = new ProducerBatch(producer, 2, [PartitionCalls.Rec("p2")]);
        var firstAck = await leader.ProduceAsync(firstBatch);
        var secondAck = await leader.ProduceAsync(secondBatch);
        Assert.Equal((0ul, 2ul), (firstAck.FirstOffset, secondAck.FirstOffset));
        for (var i = 0; i < 15; i++)
        {
            await leader.AppendAsync([Big(i)]);
        }

        await WaitAsync(Replicas(log), s => s.All(x => x.FirstOffset > 3 && x.SnapshotIndex > 0), "the producer's entries compacted away everywhere");
        var retried = await leader.ProduceAsync(firstBatch);
        Assert.Equal(firstAck with { Duplicate = true }, retried);
        Assert.Equal(secondAck with { Duplicate = true }, await leader.ProduceAsync(secondBatch));
        var next = await leader.ProduceAsync(new ProducerBatch(producer, 3, [PartitionCalls.Rec("p3")]));
        Assert.Equal((18ul, false), (next.FirstOffset, next.Duplicate));
    }

    [Fact]
    public async Task Retention_settings_are_checked_at_creation_and_part_of_the_shape_of_an_existing_log()
    {
        var admin = fixture.Cluster.Client.GetGrain<IPyralogAdminGrain>(0);
        var age = await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() =>
            admin.CreateLogAsync("ret-bad", 1, 1, new LogSettings { RetentionAge = TimeSpan.FromMilliseconds(999) }));
        Assert.Contains("the retention age is at least 1s, in whole milliseconds (was 00:00:00.9990000)", age.Message);
        var fraction = await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() =>
            admin.CreateLogAsync("ret-bad", 1, 1, new LogSettings { RetentionAge = TimeSpan.FromTicks(TimeSpan.TicksPerSecond * 2 + 1) }));
        Assert.Contains("in whole milliseconds (was 00:00:02.0000001)", fraction.Message);
        var bytes = await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() =>
            admin.CreateLogAsync("ret-bad", 1, 1, new LogSettings { RetentionBytes = LogSettings.MinRetentionBytes - 1 }));
        Assert.Contains("the retention bytes of a partition are at least 1048576 (1 MiB) (was 1048575)", bytes.Message);
        Assert.Null(await admin.GetLogAsync("ret-bad"));

        var settings = new LogSettings { RetentionAge = TimeSpan.FromDays(7), RetentionBytes = 1L << 30 };
        var created = await admin.CreateLogAsync("ret-shape", 1, 1, settings);
        Assert.Equal(settings, created.Settings);
        Assert.Equal(settings, (await admin.GetLogAsync("ret-shape"))!.Settings);
        Assert.Equal(settings, (await admin.DescribeLogAsync("ret-shape")).Log.Settings);
        Assert.Equal(created, await admin.CreateLogAsync("ret-shape", 1, 1, settings)); // the same shape: the same log
        var other = await Assert.ThrowsAsync<InvalidOperationException>(() =>
            admin.CreateLogAsync("ret-shape", 1, 1, settings with { RetentionBytes = null }));
        Assert.Contains("exists with 1 partitions, RF 1, durability Fsync, max record 1048576 bytes, retention age 7d, retention bytes 1073741824 " +
            "(asked: 1 partitions, RF 1, durability Fsync, max record 1048576 bytes, retention age 7d, retention bytes unlimited)", other.Message);
    }

    /// <summary>The encoded bytes of one entry holding one <see cref="Big"/> record.</summary>
    internal static int EntryBytes => RecordBatchCodec.Encode([Big(0)], LogSettings.DefaultMaxRecordBytes).Length;

    /// <summary>A record of <see cref="BigValueBytes"/> bytes, each the low byte of <paramref name="i"/>.</summary>
    internal static ProducerRecord Big(int i) => new(null, Enumerable.Repeat((byte)i, BigValueBytes).ToArray());

    private IPartitionReplicaGrain[] Replicas(LogInfo log) =>
        [.. Enumerable.Range(0, log.ReplicationFactor).Select(r => fixture.Cluster.Client.GetGrain<IPartitionReplicaGrain>(log.ReplicaKey(0, r)))];

    internal static async Task<ReplicaStatus[]> WaitAsync(IRaftReplicaGrain[] replicas, Func<ReplicaStatus[], bool> condition, string what)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (true)
        {
            string state;
            try
            {
                var statuses = await Task.WhenAll(replicas.Select(r => r.GetStatusAsync()));
                if (condition(statuses))
                {
                    return statuses;
                }

                state = string.Join("; ", statuses.Select(s => $"{s.Key} {s.Role} first {s.FirstOffset} next {s.NextOffset} snapshot {s.SnapshotIndex} applied {s.AppliedIndex}"));
            }
            catch (Exception e) when (e is SiloUnavailableException or OrleansMessageRejectionException or TimeoutException)
            {
                // A replica whose silo was just killed answers from its next activation only once the silo is declared dead.
                state = $"{e.GetType().Name}: {e.Message}";
            }

            Assert.True(DateTime.UtcNow < deadline, $"timed out waiting for {what}: {state}");
            await Task.Delay(50);
        }
    }
}
