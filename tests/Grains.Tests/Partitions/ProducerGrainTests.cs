using System.Text;
using Orleans.Core.Internal;
using Pyralog.Grains.Interfaces.Logs;
using Pyralog.Grains.Partitions;

namespace Pyralog.Grains.Tests.Partitions;

/// <summary>Idempotent batches, long polls and finding offsets by time, through the grain interface on three silos.</summary>
[Collection(PartitionClusterCollection.Name)]
public class ProducerGrainTests(PartitionClusterFixture fixture)
{
    private IGrainFactory Grains => fixture.Cluster.Client;

    [Fact]
    public async Task A_batch_sent_again_is_answered_with_its_first_acknowledgement_and_appended_once()
    {
        var log = await Grains.GetGrain<IPyralogAdminGrain>(0).CreateLogAsync("idempotent", 1, 3);
        var leader = await PartitionCalls.LeaderAsync(Grains, log, 0);
        const long producer = 4242;
        var first = await leader.ProduceAsync(new ProducerBatch(producer, 0, [PartitionCalls.Rec("a"), PartitionCalls.Rec("b")]));
        var plain = await leader.AppendAsync([PartitionCalls.Rec("plain")]);
        var second = await leader.ProduceAsync(new ProducerBatch(producer, 2, [PartitionCalls.Rec("c")]));
        Assert.Equal((0ul, 2, false), (first.FirstOffset, first.Count, first.Duplicate));
        Assert.Equal(2ul, plain.FirstOffset);
        Assert.Equal(3ul, second.FirstOffset);

        // The acknowledgements were "lost": the same batches again, and two at once (both answered from one append).
        Assert.Equal(first with { Duplicate = true }, await leader.ProduceAsync(new ProducerBatch(producer, 0, [PartitionCalls.Rec("a"), PartitionCalls.Rec("b")])));
        Assert.Equal(second with { Duplicate = true }, await leader.ProduceAsync(new ProducerBatch(producer, 2, [PartitionCalls.Rec("c")])));
        var racing = await Task.WhenAll(
            leader.ProduceAsync(new ProducerBatch(producer, 3, [PartitionCalls.Rec("d")])),
            leader.ProduceAsync(new ProducerBatch(producer, 3, [PartitionCalls.Rec("d")])));
        Assert.Equal(racing[0].FirstOffset, racing[1].FirstOffset);
        Assert.Equal(1, racing.Count(a => a.Duplicate));

        // Out of sequence: ahead (a batch is missing) and too old to tell; nothing appended.
        var ahead = await Assert.ThrowsAsync<ProducerSequenceException>(() => leader.ProduceAsync(new ProducerBatch(producer, 9, [PartitionCalls.Rec("x")])));
        Assert.Equal((4L, false), (ahead.ExpectedSequence, ahead.TooOld));
        Assert.Contains("expects 4 next", ahead.Message);
        var old = await Assert.ThrowsAsync<ProducerSequenceException>(() => leader.ProduceAsync(new ProducerBatch(producer, 1, [PartitionCalls.Rec("b")])));
        Assert.True(old.TooOld);
        Assert.Contains("needs a producer id", (await Assert.ThrowsAsync<ArgumentException>(() => leader.ProduceAsync(new ProducerBatch(0, 0, [PartitionCalls.Rec("z")])))).Message);
        Assert.Contains("sequences start at 0", (await Assert.ThrowsAsync<ArgumentException>(() => leader.ProduceAsync(new ProducerBatch(producer, -1, [PartitionCalls.Rec("z")])))).Message);

        var all = await PartitionCalls.ReadAllAsync(leader, 5);
        Assert.Equal(["a", "b", "plain", "c", "d"], all.Select(r => Encoding.UTF8.GetString(r.Value)));
    }

    /// <summary>
    /// Orleans does not promise request order: batches sent ahead of the one before them (here sent first on purpose)
    /// wait for it at the leader and are appended in sequence order, none refused.
    /// </summary>
    [Fact]
    public async Task Batches_that_overtake_the_one_before_them_wait_for_it_and_are_appended_in_sequence()
    {
        var log = await Grains.GetGrain<IPyralogAdminGrain>(0).CreateLogAsync("idempotent-overtaken", 1, 3);
        var leader = await PartitionCalls.LeaderAsync(Grains, log, 0);
        const long producer = 5151;
        Assert.Equal(0ul, (await leader.ProduceAsync(new ProducerBatch(producer, 0, [PartitionCalls.Rec("a")]))).FirstOffset);

        var third = leader.ProduceAsync(new ProducerBatch(producer, 3, [PartitionCalls.Rec("d"), PartitionCalls.Rec("e")]));
        var second = leader.ProduceAsync(new ProducerBatch(producer, 2, [PartitionCalls.Rec("c")]));
        var first = leader.ProduceAsync(new ProducerBatch(producer, 1, [PartitionCalls.Rec("b")]));
        var acks = await Task.WhenAll(first, second, third);

        Assert.Equal([(1ul, 1), (2ul, 1), (3ul, 2)], acks.Select(a => (a.FirstOffset, a.Count)));
        Assert.All(acks, a => Assert.False(a.Duplicate));
        var all = await PartitionCalls.ReadAllAsync(leader, 5);
        Assert.Equal(["a", "b", "c", "d", "e"], all.Select(r => Encoding.UTF8.GetString(r.Value)));
    }

    [Fact]
    public async Task A_forgotten_producers_retry_is_refused_and_nothing_is_appended_twice()
    {
        var log = await Grains.GetGrain<IPyralogAdminGrain>(0).CreateLogAsync("idempotent-forgotten", 1, 3);
        var leader = await PartitionCalls.LeaderAsync(Grains, log, 0);
        const long producer = 9001;
        Assert.Equal(0ul, (await leader.ProduceAsync(new ProducerBatch(producer, 0, [PartitionCalls.Rec("a")]))).FirstOffset);
        Assert.Equal(1ul, (await leader.ProduceAsync(new ProducerBatch(producer, 1, [PartitionCalls.Rec("b")]))).FirstOffset);

        // MaxProducers other producers append after it: the partition forgets producer 9001, the least recent.
        for (var from = 0; from < ProducerTable.MaxProducers; from += 256)
        {
            await Task.WhenAll(Enumerable.Range(from, 256).Select(i => leader.ProduceAsync(new ProducerBatch(100_000 + i, 0, [PartitionCalls.Rec("other")]))));
        }

        // Its acknowledgement of "b" was lost and it sends "b" again: refused, where it used to be appended a second time.
        var retry = await Assert.ThrowsAsync<ProducerSequenceException>(() => leader.ProduceAsync(new ProducerBatch(producer, 1, [PartitionCalls.Rec("b")])));
        Assert.Equal((true, false, 0L), (retry.UnknownProducer, retry.TooOld, retry.ExpectedSequence));
        Assert.Equal($"replica {log.ReplicaKey(0, ReplicaIndex(await leader.GetStatusAsync()))}: partition 0 does not remember producer 9001, which sent sequence 1; " +
            "a producer the partition does not remember (new, or forgotten) must start at sequence 0, nothing was appended", retry.Message);
        Assert.True((await Assert.ThrowsAsync<ProducerSequenceException>(() => leader.ProduceAsync(new ProducerBatch(producer, 2, [PartitionCalls.Rec("c")])))).UnknownProducer);

        const ulong end = 2 + ProducerTable.MaxProducers;
        Assert.Equal(end, (await leader.ProduceAsync(new ProducerBatch(producer + 1, 0, [PartitionCalls.Rec("fresh")]))).FirstOffset);
        for (var r = 0; r < 3; r++)
        {
            var records = await PartitionCalls.ReadAllAsync(Grains.GetGrain<IPartitionReplicaGrain>(log.ReplicaKey(0, r)), end + 1);
            var values = records.Select(x => Encoding.UTF8.GetString(x.Value)).ToList();
            Assert.Equal((int)end + 1, values.Count);
            Assert.Equal(["a", "b"], values.Take(2));
            Assert.Equal(ProducerTable.MaxProducers, values.Count(v => v == "other"));
            Assert.Equal("fresh", values[^1]);
        }
    }

    [Fact]
    public async Task A_new_leader_remembers_the_producers_batches_of_the_old_one()
    {
        var log = await Grains.GetGrain<IPyralogAdminGrain>(0).CreateLogAsync("idempotent-failover", 1, 3);
        var leader = await PartitionCalls.LeaderAsync(Grains, log, 0);
        var acked = await leader.ProduceAsync(new ProducerBatch(7, 0, [PartitionCalls.Rec("once")]));

        // The leader's activation goes away (its data stays): a new term starts, whoever wins it.
        var before = await leader.GetStatusAsync();
        await leader.Cast<IGrainManagementExtension>().DeactivateOnIdle();
        IPartitionReplicaGrain next;
        ReplicaStatus status;
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        do
        {
            next = await PartitionCalls.LeaderAsync(Grains, log, 0);
            status = await next.GetStatusAsync();
            Assert.True(DateTime.UtcNow < deadline, "no new term within 30 s");
        }
        while (status.Term == before.Term);

        Assert.Equal(acked with { Duplicate = true }, await next.ProduceAsync(new ProducerBatch(7, 0, [PartitionCalls.Rec("once")])));
        Assert.Equal(1ul, (await next.ProduceAsync(new ProducerBatch(7, 1, [PartitionCalls.Rec("twice")]))).FirstOffset);
    }

    [Fact]
    public async Task A_poll_waiting_at_the_end_ends_as_soon_as_its_replica_starts_to_deactivate()
    {
        var (_, follower) = await OneRecordAsync("poll-deactivating");

        // A deactivating activation takes no more messages and finishes only once its calls return: a poll that waited
        // out its maxWait there held the replica (a leader, in a nemesis run) away from its group that long. The client
        // may deliver the deactivation before the poll (two gateways), which then waits on a new activation: ask again
        // until the poll returns.
        var started = DateTime.UtcNow;
        var poll = follower.PollAsync(1, 1 << 20, TimeSpan.FromSeconds(20));
        while (!poll.IsCompleted && DateTime.UtcNow - started < TimeSpan.FromSeconds(15))
        {
            await follower.Cast<IGrainManagementExtension>().DeactivateOnIdle();
            await Task.WhenAny(poll, Task.Delay(TimeSpan.FromSeconds(1)));
        }

        var batch = await poll;
        Assert.Empty(batch.Records);
        Assert.True(DateTime.UtcNow - started < TimeSpan.FromSeconds(10), $"the poll held the deactivating replica for {(DateTime.UtcNow - started).TotalSeconds:0.0} s");
    }

    [Fact]
    public async Task A_poll_at_the_end_waits_for_the_next_append_and_times_out_empty()
    {
        var (leader, follower) = await OneRecordAsync("poll");

        var empty = await follower.PollAsync(1, 1024, TimeSpan.FromMilliseconds(200));
        Assert.Empty(empty.Records);
        Assert.Equal(1ul, empty.NextOffset);

        var polling = follower.PollAsync(1, 1024, TimeSpan.FromSeconds(15));
        await leader.AppendAsync([PartitionCalls.Rec("second")]);
        var batch = await polling;
        Assert.Equal(["second"], batch.Records.Select(r => Encoding.UTF8.GetString(r.Value)));
        Assert.Equal(2ul, batch.NextOffset);

        var tooLong = await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => follower.PollAsync(1, 1024, TimeSpan.FromSeconds(21)));
        Assert.Contains("between 0 and 20 s", tooLong.Message);
    }

    /// <summary>A new log of one partition holding one record ("first"), which a follower has applied too.</summary>
    private async Task<(IPartitionReplicaGrain Leader, IPartitionReplicaGrain Follower)> OneRecordAsync(string name)
    {
        var log = await Grains.GetGrain<IPyralogAdminGrain>(0).CreateLogAsync(name, 1, 3);
        var leader = await PartitionCalls.LeaderAsync(Grains, log, 0);
        await leader.AppendAsync([PartitionCalls.Rec("first")]);
        var follower = Grains.GetGrain<IPartitionReplicaGrain>(log.ReplicaKey(0, (ReplicaIndex(await leader.GetStatusAsync()) + 1) % 3));
        await PartitionCalls.ReadAllAsync(follower, 1);
        return (leader, follower);
    }

    [Fact]
    public async Task Offsets_are_found_by_append_time_on_every_replica()
    {
        var log = await Grains.GetGrain<IPyralogAdminGrain>(0).CreateLogAsync("by-time", 1, 3);
        var leader = await PartitionCalls.LeaderAsync(Grains, log, 0);
        var acks = new List<AppendAck>();
        for (var i = 0; i < 3; i++)
        {
            acks.Add(await leader.AppendAsync([PartitionCalls.Rec($"r{i}a"), PartitionCalls.Rec($"r{i}b")]));
        }

        var records = await PartitionCalls.ReadAllAsync(leader, 6);
        Assert.True(records.Zip(records.Skip(1)).All(p => p.First.AppendTime <= p.Second.AppendTime), "append times decrease");
        for (var r = 0; r < 3; r++)
        {
            var replica = Grains.GetGrain<IPartitionReplicaGrain>(log.ReplicaKey(0, r));
            await PartitionCalls.ReadAllAsync(replica, 6);
            Assert.Equal(0ul, await replica.FindOffsetAsync(DateTimeOffset.UnixEpoch));
            Assert.Equal(6ul, await replica.FindOffsetAsync(records[^1].AppendTime.AddMilliseconds(1)));
            foreach (var record in records)
            {
                // The first record at or after a record's own time: the first of those sharing its millisecond.
                var expected = records.First(x => x.AppendTime == record.AppendTime).Offset;
                Assert.Equal(expected, await replica.FindOffsetAsync(record.AppendTime));
            }
        }
    }

    private static int ReplicaIndex(ReplicaStatus status) => ReplicaGrainKey.TryParse(status.Key, out var key) ? key.Replica : -1;
}
