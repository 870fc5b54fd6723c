using System.Text;
using Pyralog.Grains.Interfaces.Logs;

namespace Pyralog.Grains.Tests.Partitions;

/// <summary>Logs on a three-silo cluster: create, append, read from every replica, bad input.</summary>
[Collection(PartitionClusterCollection.Name)]
public class PartitionGrainTests(PartitionClusterFixture fixture)
{
    private IGrainFactory Grains => fixture.Cluster.Client;

    [Fact]
    public async Task An_appended_batch_is_acknowledged_with_dense_offsets_and_readable_from_every_replica()
    {
        var admin = Grains.GetGrain<IPyralogAdminGrain>(0);
        var log = await admin.CreateLogAsync("orders", partitions: 2, replicationFactor: 3);
        Assert.Equal(LogState.Active, log.State);
        Assert.Equal(log, await admin.CreateLogAsync("orders", 2, 3)); // a retry returns the same log

        var leader = await LeaderAsync(log, 0);
        var first = await leader.AppendAsync([Rec("a"), Rec("b"), Rec("c")]);
        var second = await leader.AppendAsync([Rec("d")]);
        Assert.Equal(0ul, first.FirstOffset);
        Assert.Equal(3, first.Count);
        Assert.Equal(3ul, second.FirstOffset);
        Assert.Equal(first.Epoch, second.Epoch);

        for (var r = 0; r < 3; r++)
        {
            var replica = Grains.GetGrain<IPartitionReplicaGrain>(log.ReplicaKey(0, r));
            var batch = await WaitForAsync(replica, 4);
            Assert.Equal(["a", "b", "c", "d"], batch.Records.Select(x => Encoding.UTF8.GetString(x.Value)));
            Assert.Equal([0ul, 1, 2, 3], batch.Records.Select(x => x.Offset));
            Assert.All(batch.Records, x => Assert.Equal(first.Epoch, x.Epoch));
        }

        var description = await admin.DescribeLogAsync("orders");
        Assert.Equal(2, description.Partitions.Length);
        var p0 = description.Partitions[0];
        Assert.Equal(4ul, p0.CommittedNext);
        Assert.Equal(3, p0.Replicas.Select(r => r.Silo).Distinct().Count());
        Assert.False(p0.SharedSilos);
    }

    [Fact]
    public async Task Reads_start_at_any_offset_and_respect_the_byte_budget()
    {
        var admin = Grains.GetGrain<IPyralogAdminGrain>(0);
        var log = await admin.CreateLogAsync("budget", 1, 3);
        var leader = await LeaderAsync(log, 0);
        for (var i = 0; i < 10; i++)
        {
            await leader.AppendAsync([Rec($"r{i}-0"), Rec($"r{i}-1")]);
        }

        var from7 = await leader.ReadAsync(7, 1 << 20, linearizable: true);
        Assert.Equal(Enumerable.Range(7, 13).Select(i => (ulong)i), from7.Records.Select(r => r.Offset));
        Assert.Equal("r3-1", Encoding.UTF8.GetString(from7.Records[0].Value));

        var small = await leader.ReadAsync(0, 1);
        Assert.Single(small.Records); // at least one record, however small the budget
        Assert.Equal(1ul, small.NextOffset);

        var atEnd = await leader.ReadAsync(20, 1024);
        Assert.Empty(atEnd.Records);
        var beyond = await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => leader.ReadAsync(21, 1024));
        Assert.Contains("beyond the committed end 20", beyond.Message);
    }

    [Fact]
    public async Task A_create_whose_partition_no_replica_could_found_is_not_activated()
    {
        // An earlier attempt recorded an incarnation no replica runs under (its silo is down, a stand-in runs instead):
        // the retried create must not report the log created, with a partition that can never elect.
        var metadata = Grains.GetGrain<Pyralog.Grains.Metadata.IMetadataAdminGrain>(0);
        var created = await metadata.CommitMetadataAsync(Pyralog.Grains.Metadata.MetadataCommand.Create("unfounded", 1, 1, new LogSettings()).Encode());
        var id = created.Log!.Info.Id;
        Assert.Null((await metadata.CommitMetadataAsync(new Pyralog.Grains.Metadata.MetadataCommand { Kind = "incarnations", LogId = id, Incarnations = [[12345]] }.Encode())).Error);

        var admin = Grains.GetGrain<IPyralogAdminGrain>(0);
        var refused = await Assert.ThrowsAsync<InvalidOperationException>(() => admin.CreateLogAsync("unfounded", 1, 1));
        Assert.Contains("no replica of partition 0 could start its group", refused.Message);
        Assert.Equal(LogState.Creating, (await admin.GetLogAsync("unfounded"))!.State);
        await admin.DeleteLogAsync("unfounded");
    }

    [Fact]
    public async Task A_read_budget_above_MaxReadBytes_is_held_to_it()
    {
        // A read's records are built in the silo's memory and travel as one Orleans message: a consumer asking for
        // int.MaxValue bytes over a backlog must not get (or make the silo build) gigabytes.
        var admin = Grains.GetGrain<IPyralogAdminGrain>(0);
        var log = await admin.CreateLogAsync("capped", 1, 3);
        const int Values = 1_000_000;
        var records = (LogSettings.MaxReadBytes / Values) + 8;
        IPartitionReplicaGrain? leader = null;
        for (var i = 0; i < records; i++)
        {
            (_, leader) = await PartitionCalls.AppendAtLeaderAsync(Grains, log, 0, [new ProducerRecord(null, new byte[Values])]);
        }

        var read = await leader!.ReadAsync(0, int.MaxValue);
        Assert.InRange(read.Records.Length, 1, records - 1);
        Assert.InRange(read.Records.Sum(r => (long)r.Value.Length), LogSettings.MaxReadBytes - Values, LogSettings.MaxReadBytes + Values);
        Assert.Equal((ulong)read.Records.Length, read.NextOffset);
    }

    [Fact]
    public async Task Bad_input_is_refused_naming_what_is_wrong_and_writes_nothing()
    {
        var admin = Grains.GetGrain<IPyralogAdminGrain>(0);
        Assert.Contains("replication factor", (await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => admin.CreateLogAsync("x", 1, 8))).Message);
        Assert.Contains("replication factor", (await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => admin.CreateLogAsync("x", 1, 0))).Message);
        Assert.Contains("partitions", (await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => admin.CreateLogAsync("x", 0, 1))).Message);
        Assert.Contains("log name", (await Assert.ThrowsAsync<ArgumentException>(() => admin.CreateLogAsync("a b", 1, 1))).Message);
        Assert.Contains("log name", (await Assert.ThrowsAsync<ArgumentException>(() => admin.CreateLogAsync("x\n", 1, 1))).Message);
        Assert.Null(await admin.GetLogAsync("x"));

        var log = await admin.CreateLogAsync("limits", 1, 3, new LogSettings { MaxRecordBytes = 1024 });
        Assert.Contains("exists with 1 partitions", (await Assert.ThrowsAsync<InvalidOperationException>(() => admin.CreateLogAsync("limits", 2, 3))).Message);
        var leader = await LeaderAsync(log, 0);
        Assert.Contains("empty", (await Assert.ThrowsAsync<ArgumentException>(() => leader.AppendAsync([]))).Message);
        Assert.Contains("over the log's limit of 1024", (await Assert.ThrowsAsync<ArgumentException>(() => leader.AppendAsync([Rec("ok"), new ProducerRecord(null, new byte[2000])]))).Message);
        Assert.Equal(0ul, (await leader.ReadAsync(0, 1024, linearizable: true)).CommittedNext);

        // Membership calls name a slot outside the group's seven: refused before anything is proposed (a member there
        // would be committed into the configuration and fail every later send of the group's leaders).
        var before = await leader.GetStatusAsync();
        foreach (var outsideSlot in new[] { ReplicaGrainKey.MaxReplicationFactor, -1 })
        {
            Assert.Contains("a replica slot is 0 to 6", (await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => leader.AddReplicaAsync(outsideSlot, 1))).Message);
            Assert.Contains("a replica slot is 0 to 6", (await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => leader.RemoveReplicaAsync(outsideSlot, -1))).Message);
            Assert.Contains("another slot", (await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => leader.RemoveReplicaAsync(0, -1, outsideSlot))).Message);
        }

        Assert.Contains("incarnation", (await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => leader.AddReplicaAsync(4, 0))).Message);
        var after = await leader.GetStatusAsync();
        Assert.Equal(before.VoterIncarnations, after.VoterIncarnations);
        Assert.Equal(before.LearnerIncarnations, after.LearnerIncarnations);
        (var ack, leader) = await PartitionCalls.AppendAtLeaderAsync(Grains, log, 0, [Rec("still appends")]);
        Assert.Equal(0ul, ack.FirstOffset);

        var unknown = Grains.GetGrain<IPartitionReplicaGrain>(ReplicaGrainKey.Of(999_999, 0, 0));
        Assert.Contains("no log has id 999999", (await Assert.ThrowsAsync<InvalidOperationException>(() => unknown.AppendAsync([Rec("x")]))).Message);
        var outside = Grains.GetGrain<IPartitionReplicaGrain>(log.ReplicaKey(5, 0));
        Assert.Contains("there is no replica", (await Assert.ThrowsAsync<InvalidOperationException>(() => outside.AppendAsync([Rec("x")]))).Message);

        var follower = Grains.GetGrain<IPartitionReplicaGrain>(log.ReplicaKey(0, (ReplicaGrainKey.TryParse(leader.GetPrimaryKeyString(), out var slotKey) && slotKey.Replica is var slot ? slot : 0) == 0 ? 1 : 0));
        var notLeader = await Assert.ThrowsAsync<NotLeaderException>(() => follower.AppendAsync([Rec("x")]));
        Assert.Equal(leader.GetPrimaryKeyString(), notLeader.LeaderReplicaKey);

        // A Scarab ID stamped from 2059 on is negative as a long: still an incarnation, checked like any (the follower
        // answers that it does not lead, not that the argument is wrong).
        await Assert.ThrowsAsync<NotLeaderException>(() => follower.AddReplicaAsync(4, unchecked((long)(1UL << 63 | 12345))));
    }

    [Fact]
    public async Task A_deleted_log_is_gone_and_its_name_can_be_reused_with_a_new_id()
    {
        var admin = Grains.GetGrain<IPyralogAdminGrain>(0);
        var log = await admin.CreateLogAsync("temporary", 1, 3);
        await (await LeaderAsync(log, 0)).AppendAsync([Rec("x")]);
        await admin.DeleteLogAsync("temporary");
        Assert.Null(await admin.GetLogAsync("temporary"));
        Assert.Contains("no log is named", (await Assert.ThrowsAsync<InvalidOperationException>(() => admin.DeleteLogAsync("temporary"))).Message);

        // Its replicas (deactivated with their data dropped) answer that the log is gone, however they are reached again.
        for (var r = 0; r < 3; r++)
        {
            var replica = Grains.GetGrain<IPartitionReplicaGrain>(log.ReplicaKey(0, r));
            var append = await Assert.ThrowsAsync<InvalidOperationException>(() => replica.AppendAsync([Rec("late")]));
            Assert.Contains($"no log has id {log.Id}", append.Message);
            Assert.Contains($"no log has id {log.Id}", (await Assert.ThrowsAsync<InvalidOperationException>(() => replica.ReadAsync(0, 1024))).Message);
        }

        var again = await admin.CreateLogAsync("temporary", 1, 3);
        Assert.True(again.Id > log.Id);
        Assert.Equal(0ul, (await (await LeaderAsync(again, 0)).AppendAsync([Rec("y")])).FirstOffset);
    }

    private Task<IPartitionReplicaGrain> LeaderAsync(LogInfo log, int partition) => PartitionCalls.LeaderAsync(Grains, log, partition);

    private static ProducerRecord Rec(string value) => PartitionCalls.Rec(value);

    private static async Task<ReadBatch> WaitForAsync(IPartitionReplicaGrain replica, ulong committed)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(20);
        while (true)
        {
            var batch = await replica.ReadAsync(0, 1 << 20);
            if (batch.CommittedNext >= committed || DateTime.UtcNow > deadline)
            {
                return batch;
            }

            await Task.Delay(20);
        }
    }
}
