using System.Text;
using Pyralog.Client.Logs;
using Pyralog.Grains.Interfaces.Logs;

namespace Pyralog.Client.Tests.Cluster;

/// <summary>The producer and consumer against real partitions of a 3-silo cluster (shared; no silo is harmed).</summary>
[Collection(ClientClusterCollection.Name)]
public sealed class ProduceConsumeTests(ClientClusterFixture fixture)
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);
    private readonly IGrainFactory _grains = fixture.Cluster.Client;

    [Fact]
    public async Task Keyed_records_land_in_their_keys_partitions_and_are_consumed_from_every_kind_of_start()
    {
        var log = await Admin.CreateLogAsync("events", partitions: 3, replicationFactor: 3);
        await using var producer = new LogProducer(_grains, new ProducerOptions { Linger = TimeSpan.FromMilliseconds(2) });
        var sent = new List<(string Value, Task<RecordAck> Ack)>();
        for (var i = 0; i < 30; i++)
        {
            var value = $"e{i}";
            sent.Add((value, producer.ProduceAsync("events", new ProducerRecord(Key($"k{i % 10}"), Encoding.UTF8.GetBytes(value)))));
        }

        await producer.FlushAsync();
        var acks = new List<(string Value, RecordAck Ack)>();
        for (var i = 0; i < sent.Count; i++)
        {
            var ack = await sent[i].Ack;
            Assert.Equal(Partitioner.ForKey(Key($"k{i % 10}"), 3), ack.Partition);
            Assert.False(ack.Duplicate);
            acks.Add((sent[i].Value, ack));
        }

        var consumer = new LogConsumer(_grains);
        for (var p = 0; p < log.Partitions; p++)
        {
            // In each partition: dense offsets from 0, the records in the order they were produced, each once.
            var expected = acks.Where(a => a.Ack.Partition == p).ToList();
            Assert.Equal(Enumerable.Range(0, expected.Count).Select(o => (ulong)o), expected.Select(a => a.Ack.Offset));
            var earliest = await Streams.TakeAsync(consumer.ConsumeAsync("events", p, ConsumeFrom.Earliest), expected.Count, Patience);
            Assert.Equal(expected.Select(a => (a.Value, a.Ack.Offset, a.Ack.Epoch)), earliest.Select(r => (Text(r.Value), r.Offset, r.Epoch)));
            Assert.All(earliest, r => Assert.Equal(("events", p), (r.Log, r.Partition)));

            if (expected.Count > 1)
            {
                var fromOffset = await Streams.TakeAsync(consumer.ConsumeAsync("events", p, ConsumeFrom.Offset(1)), expected.Count - 1, Patience);
                Assert.Equal(expected.Skip(1).Select(a => a.Value), fromOffset.Select(r => Text(r.Value)));
            }
        }

        var all = await Streams.TakeAsync(consumer.ConsumeAllAsync("events", ConsumeFrom.Earliest), acks.Count, Patience);
        Assert.Equal(acks.Select(a => (a.Ack.Partition, a.Ack.Offset, a.Value)).Order(), all.Select(r => (r.Partition, r.Offset, Text(r.Value))).Order());
    }

    [Fact]
    public async Task Latest_starts_at_the_end_and_Time_at_the_first_record_appended_since()
    {
        await Admin.CreateLogAsync("clock", 1, 3);
        await using var producer = new LogProducer(_grains, new ProducerOptions { Linger = TimeSpan.Zero });
        var before = await producer.ProduceAsync("clock", Rec("before"));
        var consumer = new LogConsumer(_grains, new ConsumerOptions { MaxWait = TimeSpan.FromMilliseconds(200) });

        // Latest: the committed end when the enumeration starts. Records are produced until the consumer sees one; the
        // first it sees is one produced after it started, never "before".
        await using var latest = consumer.ConsumeAsync("clock", 0, ConsumeFrom.Latest).GetAsyncEnumerator();
        var next = latest.MoveNextAsync().AsTask();
        var after = new List<RecordAck>();
        while (!next.IsCompleted && after.Count < 200)
        {
            after.Add(await producer.ProduceAsync("clock", Rec($"after{after.Count}")));
        }

        Assert.True(await next);
        var first = after.FindIndex(a => a.Offset == latest.Current.Offset);
        Assert.True(first >= 0, $"the first record from Latest (offset {latest.Current.Offset}) is one produced after the start");
        Assert.Equal($"after{first}", Text(latest.Current.Value));
        Assert.True(latest.Current.Offset > before.Offset);

        // Time: the first record whose append time is at or after t.
        var appended = await Streams.TakeAsync(consumer.ConsumeAsync("clock", 0, ConsumeFrom.Offset(after[^1].Offset)), 1, Patience);
        var lastAppend = appended[0].AppendTime;
        while (DateTimeOffset.UtcNow.ToUnixTimeMilliseconds() <= lastAppend.ToUnixTimeMilliseconds())
        {
            await Task.Yield(); // until the clock has left the last record's millisecond (a condition, at most 1 ms)
        }

        var t = DateTimeOffset.FromUnixTimeMilliseconds(DateTimeOffset.UtcNow.ToUnixTimeMilliseconds());
        var marked = await producer.ProduceAsync("clock", Rec("marked"));
        var fromTime = await Streams.TakeAsync(consumer.ConsumeAsync("clock", 0, ConsumeFrom.Time(t)), 1, Patience);
        Assert.Equal(("marked", marked.Offset), (Text(fromTime[0].Value), fromTime[0].Offset));
        Assert.True(fromTime[0].AppendTime >= t);
    }

    [Fact]
    public async Task A_batch_sent_twice_to_the_grain_is_appended_once()
    {
        var log = await Admin.CreateLogAsync("twice", 1, 3);
        var leader = await LeaderAsync(log);
        var batch = new ProducerBatch(ProducerId: 4242, FirstSequence: 0, [Rec("a"), Rec("b")]);
        var first = await leader.ProduceAsync(batch);
        var again = await leader.ProduceAsync(batch);
        Assert.Equal(new AppendAck(first.Epoch, 0, 2, Duplicate: false), first);
        Assert.Equal(first with { Duplicate = true }, again);
        var read = await leader.ReadAsync(0, 1 << 20);
        Assert.Equal(["a", "b"], read.Records.Select(r => Text(r.Value)));
        Assert.Equal(2ul, read.CommittedNext);
    }

    [Fact]
    public async Task A_record_whose_acknowledgement_comes_too_late_is_retried_and_appended_once()
    {
        await Admin.CreateLogAsync("late", 1, 3);
        var delayed = new DelayedAnswers(_grains, TimeSpan.FromSeconds(2), held: 1);
        await using var producer = new LogProducer(delayed, new ProducerOptions { Linger = TimeSpan.Zero, RequestTimeout = TimeSpan.FromMilliseconds(300) });
        var ack = await producer.ProduceAsync("late", Rec("once"));
        Assert.True(delayed.Produced >= 2, "the first answer was held past the request timeout, so the batch was sent again");
        Assert.Equal(new RecordAck(0, ack.Epoch, 0, Duplicate: true), ack);
        var sentBefore = delayed.Produced;
        var second = await producer.ProduceAsync("late", Rec("twice"));
        Assert.Equal(1ul, second.Offset);
        // Answered as a duplicate only if it was itself sent again (a CI run on two busy cores took over 300 ms to answer it).
        Assert.Equal(delayed.Produced - sentBefore > 1, second.Duplicate);

        var records = await Streams.TakeAsync(new LogConsumer(_grains).ConsumeAsync("late", 0, ConsumeFrom.Earliest), 2, Patience);
        Assert.Equal(["once", "twice"], records.Select(r => Text(r.Value)));
    }

    [Fact]
    public async Task A_record_whose_answer_was_lost_before_the_partition_forgot_the_producer_fails_as_a_possible_duplicate_and_is_in_the_log_once()
    {
        const int MaxProducers = 1024; // ProducerTable.MaxProducers: the partition forgets the least recent beyond them
        var log = await Admin.CreateLogAsync("forgetful", 1, 3);
        var leader = await LeaderAsync(log);
        var grains = new LostAnswerThenForgotten(_grains);

        // A request timeout far beyond the forgetting below: the lost answer, not the client's timer, ends the attempt.
        await using var producer = new LogProducer(grains, new ProducerOptions { Linger = TimeSpan.Zero, RequestTimeout = TimeSpan.FromSeconds(90) });
        Assert.Equal(0ul, (await producer.ProduceAsync("forgetful", Rec("first"))).Offset);
        grains.LoseNextAnswer(async () =>
        {
            for (var from = 0; from < MaxProducers; from += 256)
            {
                await Task.WhenAll(Enumerable.Range(from, 256).Select(i => leader.ProduceAsync(new ProducerBatch(100_000 + i, 0, [Rec("other")]))));
            }
        });

        // "lost" was appended, its answer lost, then the partition forgot the producer: the retry is refused, and the
        // producer cannot tell whether "lost" is in the log, so it fails it instead of appending it again.
        var e = await Assert.ThrowsAsync<ProduceException>(() => producer.ProduceAsync("forgetful", Rec("lost")));
        Assert.True(Assert.IsType<ProducerSequenceException>(e.InnerException).UnknownProducer);
        Assert.Contains("the records may have been appended", e.Message);
        var after = await producer.ProduceAsync("forgetful", Rec("after"));
        Assert.Equal((2ul + MaxProducers, false), (after.Offset, after.Duplicate));

        var records = await Streams.TakeAsync(new LogConsumer(_grains).ConsumeAsync("forgetful", 0, ConsumeFrom.Earliest), MaxProducers + 3, Patience);
        Assert.Equal(["first", "lost"], records.Take(2).Select(r => Text(r.Value)));
        Assert.Equal(MaxProducers, records.Count(r => Text(r.Value) == "other"));
        Assert.Equal("after", Text(records[^1].Value));

        // The same id and sequence for "lost" both times; "after" under a fresh id from 0. (Which replica the client asks
        // first varies; the redirects of a non-leader are left out.)
        var produced = grains.Produced.Where(p => p.Error is not NotLeaderException).ToArray();
        Assert.Equal(4, produced.Length);
        var id = produced[0].Batch.ProducerId;
        Assert.Equal([(id, 0L), (id, 1L), (id, 1L)], produced.Take(3).Select(p => (p.Batch.ProducerId, p.Batch.FirstSequence)));
        Assert.Equal([null, typeof(TimeoutException), typeof(ProducerSequenceException), null], produced.Select(p => p.Error?.GetType()));
        Assert.NotEqual(id, produced[3].Batch.ProducerId);
        Assert.Equal(0, produced[3].Batch.FirstSequence);
    }

    [Fact]
    public async Task Bad_input_fails_clearly_and_only_where_it_is()
    {
        await Admin.CreateLogAsync("strict", 1, 3, new LogSettings { MaxRecordBytes = 64 });
        var producer = new LogProducer(_grains, new ProducerOptions { Linger = TimeSpan.FromMilliseconds(2) });
        Assert.Equal("no log is named 'absent'", (await Assert.ThrowsAsync<InvalidOperationException>(() => producer.ProduceAsync("absent", Rec("x")))).Message);

        var small = producer.ProduceAsync("strict", Rec("fits"));
        var large = producer.ProduceAsync("strict", new ProducerRecord(null, new byte[100]));
        Assert.Equal("the record is 118 bytes, over the limit of log 'strict' of 64 bytes (Parameter 'record')", (await Assert.ThrowsAsync<ArgumentException>(() => large)).Message);
        Assert.Equal(0ul, (await small).Offset);

        await producer.DisposeAsync();
        Assert.Equal("the producer is closed", (await Assert.ThrowsAsync<ObjectDisposedException>(() => producer.ProduceAsync("strict", Rec("late")))).Message);

        var consumer = new LogConsumer(_grains);
        var unknown = await Assert.ThrowsAsync<InvalidOperationException>(() => Streams.TakeAsync(consumer.ConsumeAsync("absent", 0, ConsumeFrom.Earliest), 1, Patience));
        Assert.Equal("no log is named 'absent'", unknown.Message);
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => Streams.TakeAsync(consumer.ConsumeAsync("strict", 1, ConsumeFrom.Earliest), 1, Patience));
        var beyond = await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => Streams.TakeAsync(consumer.ConsumeAsync("strict", 0, ConsumeFrom.Offset(5)), 1, Patience));
        Assert.StartsWith("offset 5 of partition 0 is beyond the committed end 1 ", beyond.Message);
    }

    [Fact]
    public async Task Records_of_a_log_deleted_while_producing_fail_saying_so()
    {
        await Admin.CreateLogAsync("doomed", 1, 3);
        await using var producer = new LogProducer(_grains, new ProducerOptions { Linger = TimeSpan.Zero });
        await producer.ProduceAsync("doomed", Rec("before"));
        await Admin.DeleteLogAsync("doomed");
        var e = await Assert.ThrowsAsync<ProduceException>(() => producer.ProduceAsync("doomed", Rec("after")));
        Assert.True(e.Message.StartsWith("1 record of log 'doomed' partition 0 was not acknowledged: log 'doomed' was deleted", StringComparison.Ordinal), e.Message);
    }

    private IPyralogAdminGrain Admin => _grains.GetGrain<IPyralogAdminGrain>(0);

    private static byte[] Key(string key) => Encoding.UTF8.GetBytes(key);

    private static ProducerRecord Rec(string value) => new(null, Encoding.UTF8.GetBytes(value));

    private static string Text(byte[] value) => Encoding.UTF8.GetString(value);

    private async Task<IPartitionReplicaGrain> LeaderAsync(LogInfo log)
    {
        var deadline = DateTime.UtcNow + Patience;
        while (true)
        {
            for (var r = 0; r < log.ReplicationFactor; r++)
            {
                var replica = _grains.GetGrain<IPartitionReplicaGrain>(log.ReplicaKey(0, r));
                if ((await replica.GetStatusAsync()).Role == ReplicaRole.Leader)
                {
                    return replica;
                }
            }

            Assert.True(DateTime.UtcNow < deadline, $"no leader for log {log.Name} within {Patience.TotalSeconds} s");
            await Task.Delay(20);
        }
    }
}
