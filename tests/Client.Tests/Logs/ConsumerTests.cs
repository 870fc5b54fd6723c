using Microsoft.Extensions.Time.Testing;
using Orleans.Runtime;
using Pyralog.Client.Logs;
using Pyralog.Grains.Interfaces.Logs;

namespace Pyralog.Client.Tests.Logs;

/// <summary>The consumer against scripted replicas: what it does with a replica that is behind and with an offset no longer retained.</summary>
public sealed class ConsumerTests
{
    private const string Log = "orders";
    private readonly FakeGrains _grains = new(FakeGrains.Log(Log, partitions: 1));

    [Fact]
    public async Task A_replica_that_is_behind_is_left_for_one_that_has_the_records_and_the_position_is_kept()
    {
        var reads = new List<(string Replica, ulong From)>();
        _grains.OnStatus = key => Task.FromResult(Status(key, firstOffset: 0));
        _grains.OnRead = (key, from) =>
        {
            lock (reads)
            {
                reads.Add((key, from));
            }

            // Replica 0 has applied up to 3 only; replica 1 has everything up to 10.
            if (key == ReplicaGrainKey.Of(7, 0, 0))
            {
                return Task.FromException<ReadBatch>(new ArgumentOutOfRangeException("fromOffset", from, $"offset {from} of partition 0 is beyond the committed end 3"));
            }

            var records = Enumerable.Range((int)from, 10 - (int)from).Select(o => new CommittedRecord(1, (ulong)o, 0, null, [(byte)o], null)).ToArray();
            return Task.FromResult(new ReadBatch(records, 10, 0, 10));
        };
        var linearizable = new List<string>();
        _grains.OnLinearizableRead = (key, from) =>
        {
            lock (linearizable)
            {
                linearizable.Add(key);
            }

            // Forwarded to the leader, whose committed end is 10: replica 0 is only behind.
            return Task.FromResult(new ReadBatch([new CommittedRecord(1, from, 0, null, [(byte)from], null)], from + 1, 0, 10));
        };

        var consumer = new LogConsumer(_grains);
        var records = new List<ConsumedRecord>();
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        await foreach (var record in consumer.ConsumeAsync(Log, 0, ConsumeFrom.Offset(5), stop.Token))
        {
            records.Add(record);
            if (records.Count == 5)
            {
                break;
            }
        }

        Assert.Equal([5ul, 6ul, 7ul, 8ul, 9ul], records.Select(r => r.Offset));
        Assert.Equal([5, 6, 7, 8, 9], records.Select(r => (int)r.Value[0]));
        Assert.Equal([(ReplicaGrainKey.Of(7, 0, 0), 5ul), (ReplicaGrainKey.Of(7, 0, 1), 5ul)], reads);
        Assert.Equal([ReplicaGrainKey.Of(7, 0, 0)], linearizable); // asked whether 5 is beyond the end, not only beyond replica 0
    }

    [Fact]
    public async Task A_replica_whose_copy_is_damaged_is_left_for_one_that_reads_intact()
    {
        var reads = new List<string>();
        _grains.OnRead = (key, from) =>
        {
            lock (reads)
            {
                reads.Add(key);
            }

            if (key == ReplicaGrainKey.Of(7, 0, 0))
            {
                return Task.FromException<ReadBatch>(new InvalidDataException($"a block of replica {key} fails its checksum"));
            }

            return Task.FromResult(new ReadBatch([new CommittedRecord(1, from, 0, null, [(byte)from], null)], from + 1, 0, 10));
        };

        var consumer = new LogConsumer(_grains);
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        await foreach (var record in consumer.ConsumeAsync(Log, 0, ConsumeFrom.Offset(3), stop.Token))
        {
            Assert.Equal(3ul, record.Offset);
            break;
        }

        Assert.Equal([ReplicaGrainKey.Of(7, 0, 0), ReplicaGrainKey.Of(7, 0, 1)], reads);
    }

    [Fact]
    public async Task When_every_replicas_copy_is_damaged_the_consumer_is_told()
    {
        _grains.OnRead = (key, from) => Task.FromException<ReadBatch>(new InvalidDataException($"a block of replica {key} fails its checksum"));

        var consumer = new LogConsumer(_grains);
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        var error = await Assert.ThrowsAsync<InvalidDataException>(async () =>
        {
            await foreach (var record in consumer.ConsumeAsync(Log, 0, ConsumeFrom.Offset(3), stop.Token))
            {
                Assert.Fail($"read {record.Offset} from a damaged copy");
            }
        });
        Assert.StartsWith("every replica of partition 0 of log 'orders' answered that its copy is damaged at offset 3", error.Message, StringComparison.Ordinal);
        Assert.False(stop.IsCancellationRequested);
    }

    /// <summary>
    /// An offset beyond the committed end (one from another log, or from a log deleted and created again) fails naming
    /// the end, once a linearizable read confirms it, instead of waiting for every replica to catch up for ever.
    /// </summary>
    [Fact]
    public async Task An_offset_beyond_the_committed_end_fails_with_the_servers_message()
    {
        const string message = "offset 50 of partition 0 is beyond the committed end 10";
        var linearizable = 0;
        _grains.OnStatus = key => Task.FromResult(Status(key, firstOffset: 0));
        _grains.OnRead = (_, from) => Task.FromException<ReadBatch>(new ArgumentOutOfRangeException("fromOffset", from, message + " (replica behind)"));
        _grains.OnLinearizableRead = (_, from) =>
        {
            Interlocked.Increment(ref linearizable);
            return Task.FromException<ReadBatch>(new ArgumentOutOfRangeException("fromOffset", from, message));
        };
        var consumer = new LogConsumer(_grains);
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var e = await Assert.ThrowsAsync<ArgumentOutOfRangeException>(async () =>
        {
            await foreach (var record in consumer.ConsumeAsync(Log, 0, ConsumeFrom.Offset(50), stop.Token))
            {
                Assert.Fail($"no record was expected, got offset {record.Offset}");
            }
        });
        Assert.StartsWith(message + " (Parameter", e.Message); // the linearizable read's refusal, not the behind replica's
        Assert.Equal(1, linearizable);
        Assert.False(stop.IsCancellationRequested);
    }

    [Fact]
    public async Task An_offset_below_the_first_retained_one_fails_with_the_servers_message()
    {
        const string message = "offset 2 of partition 0 is below the first retained offset 40";
        _grains.OnStatus = key => Task.FromResult(Status(key, firstOffset: 40));
        _grains.OnRead = (_, from) => Task.FromException<ReadBatch>(new ArgumentOutOfRangeException("fromOffset", from, message));
        var consumer = new LogConsumer(_grains);
        var e = await Assert.ThrowsAsync<ArgumentOutOfRangeException>(async () =>
        {
            await foreach (var record in consumer.ConsumeAsync(Log, 0, ConsumeFrom.Offset(2)))
            {
                Assert.Fail($"no record was expected, got offset {record.Offset}");
            }
        });
        Assert.StartsWith(message, e.Message);
    }

    [Fact]
    public async Task Earliest_starts_at_the_new_first_offset_when_retention_moved_it_before_the_first_read()
    {
        var first = 4ul;
        var reads = new List<ulong>();
        _grains.OnStatus = key => Task.FromResult(Status(key, firstOffset: first));
        _grains.OnRead = (_, from) =>
        {
            lock (reads)
            {
                reads.Add(from);
            }

            if (from < 6)
            {
                first = 6; // retention ran between the status and this read
                return Task.FromException<ReadBatch>(new ArgumentOutOfRangeException("fromOffset", from,
                    $"offset {from} of partition 0 is below the first retained offset 6 (the first available offset is 6)"));
            }

            var records = Enumerable.Range((int)from, 10 - (int)from).Select(o => new CommittedRecord(1, (ulong)o, 0, null, [(byte)o], null)).ToArray();
            return Task.FromResult(new ReadBatch(records, 10, 6, 10));
        };

        var consumer = new LogConsumer(_grains);
        var records = new List<ConsumedRecord>();
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        await foreach (var record in consumer.ConsumeAsync(Log, 0, ConsumeFrom.Earliest, stop.Token))
        {
            records.Add(record);
            if (records.Count == 4)
            {
                break;
            }
        }

        Assert.Equal([6ul, 7ul, 8ul, 9ul], records.Select(r => r.Offset));
        Assert.Equal([4ul, 6ul], reads); // the old start, refused (the replica says its first offset moved), then the new start
    }

    [Fact]
    public async Task A_read_up_to_an_end_stops_there_also_when_retention_dropped_every_record_before_it()
    {
        var first = 4ul;
        _grains.OnStatus = key => Task.FromResult(Status(key, firstOffset: first));
        _grains.OnRead = (_, from) =>
        {
            if (from < 10)
            {
                first = 10; // age retention emptied the partition after the end was read: its first offset is now the end
                return Task.FromException<ReadBatch>(new ArgumentOutOfRangeException("fromOffset", from,
                    $"offset {from} of partition 0 is below the first retained offset 10 (the first available offset is 10)"));
            }

            return Task.FromResult(new ReadBatch([], 10, 10, 10));
        };

        var consumer = new LogConsumer(_grains);
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(30));
        var records = new List<ConsumedRecord>();
        await foreach (var record in consumer.ConsumeAsync(Log, 0, ConsumeFrom.Earliest, end: 10, stop.Token))
        {
            records.Add(record);
        }

        Assert.Empty(records);
        Assert.False(stop.IsCancellationRequested, "the read waited for records past its end instead of ending");

        first = 0;
        _grains.OnRead = (_, from) => Task.FromResult(new ReadBatch(
            [.. Enumerable.Range((int)from, 10 - (int)from).Select(o => new CommittedRecord(1, (ulong)o, 0, null, [(byte)o], null))], 10, 0, 10));
        await foreach (var record in consumer.ConsumeAsync(Log, 0, ConsumeFrom.Offset(6), end: 8, stop.Token))
        {
            records.Add(record);
        }

        Assert.Equal([6ul, 7ul], records.Select(r => r.Offset));
    }

    /// <summary>
    /// A follower that is behind answers a time past its last record with its own end, short of the first record at or
    /// after that time: the consumer takes the furthest answer, so it never starts at records appended before the time.
    /// </summary>
    [Fact]
    public async Task Time_starts_at_the_furthest_replicas_answer_as_one_behind_answers_short()
    {
        var time = new DateTimeOffset(2026, 12, 6, 12, 0, 0, TimeSpan.Zero);
        _grains.OnFindOffset = (key, at) =>
        {
            Assert.Equal(time, at);
            return Task.FromResult(key == ReplicaGrainKey.Of(7, 0, 0) ? 5ul : 8ul); // replica 0 has applied up to 5 only
        };
        var reads = new List<ulong>();
        _grains.OnRead = (_, from) =>
        {
            lock (reads)
            {
                reads.Add(from);
            }

            var records = Enumerable.Range((int)from, 10 - (int)from).Select(o => new CommittedRecord(1, (ulong)o, 0, null, [(byte)o], null)).ToArray();
            return Task.FromResult(new ReadBatch(records, 10, 0, 10));
        };

        var consumer = new LogConsumer(_grains);
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(10));
        var records = new List<ConsumedRecord>();
        await foreach (var record in consumer.ConsumeAsync(Log, 0, ConsumeFrom.Time(time), end: 10, stop.Token))
        {
            records.Add(record);
        }

        Assert.Equal([8ul, 9ul], records.Select(r => r.Offset));
        Assert.Equal([8ul], reads);
    }

    /// <summary>
    /// The consumer reads the log's metadata before it reads a replica: a read the metadata group fails (its leader's
    /// silo lost, no leader yet) is tried again as failed replica calls are, until the enumeration is cancelled; a log
    /// that does not exist still fails at once.
    /// </summary>
    [Theory]
    [InlineData(typeof(SiloUnavailableException))]
    [InlineData(typeof(TimeoutException))]
    [InlineData(typeof(NotLeaderException))]
    public async Task A_metadata_read_that_fails_for_a_while_is_retried_until_the_log_is_read(Type failure)
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 12, 6, 12, 0, 0, TimeSpan.Zero));
        var reads = 0;
        _grains.OnGetLog = name => ++reads <= 3 // called under the fake's lock
            ? Task.FromException<LogInfo?>((Exception)Activator.CreateInstance(failure, "the metadata group did not answer")!)
            : Task.FromResult<LogInfo?>(name == Log ? FakeGrains.Log(Log, partitions: 1) : null);
        _grains.OnRead = (_, from) => Task.FromResult(new ReadBatch([new CommittedRecord(1, from, 0, null, [(byte)from], null)], from + 1, 0, 10));
        var consumer = new LogConsumer(_grains, null, time);
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(30));

        var first = FirstAsync(consumer.ConsumeAsync(Log, 0, ConsumeFrom.Offset(3), stop.Token));
        for (var moved = TimeSpan.Zero; !first.IsCompleted; moved += TimeSpan.FromMilliseconds(50))
        {
            Assert.True(moved < TimeSpan.FromSeconds(100), "the metadata was not read within 100 s of fake time");
            time.Advance(TimeSpan.FromMilliseconds(50));
            await Task.Delay(1);
        }

        Assert.Equal(3ul, (await first).Offset);
        Assert.Equal(4, reads);
        var e = await Assert.ThrowsAsync<InvalidOperationException>(() => FirstAsync(consumer.ConsumeAllAsync("nope", ConsumeFrom.Earliest, stop.Token)));
        Assert.Equal("no log is named 'nope'", e.Message);
        Assert.Equal(5, reads);
    }

    [Fact]
    public async Task A_fetch_left_unanswered_for_HedgeAfter_goes_to_the_next_replica_too_and_the_consumer_stays_with_the_one_that_answered()
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 12, 7, 12, 0, 0, TimeSpan.Zero));
        var reads = new List<(string Replica, ulong From)>();
        var silent = new TaskCompletionSource<ReadBatch>(); // replica 0's silo died: nothing refuses the call, nothing answers it
        RecordReads(reads, (key, from) =>
            key == ReplicaGrainKey.Of(7, 0, 0) ? silent.Task : Task.FromResult(Batch(from, 2)));
        var consumer = Hedging(time, TimeSpan.FromMilliseconds(500));
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(30));

        var taken = TakeAsync(consumer.ConsumeAsync(Log, 0, ConsumeFrom.Offset(5), stop.Token), 4);
        await UntilAsync(() => Count(reads) == 1);
        time.Advance(TimeSpan.FromMilliseconds(499));
        await Task.Delay(20);
        Assert.Equal(1, Count(reads)); // not before HedgeAfter
        time.Advance(TimeSpan.FromMilliseconds(1));

        Assert.Equal([5ul, 6ul, 7ul, 8ul], (await taken.WaitAsync(TimeSpan.FromSeconds(10))).Select(r => r.Offset));
        Assert.Equal([(ReplicaGrainKey.Of(7, 0, 0), 5ul), (ReplicaGrainKey.Of(7, 0, 1), 5ul), (ReplicaGrainKey.Of(7, 0, 1), 7ul)], reads);
    }

    [Fact]
    public async Task A_hedge_that_fails_or_is_behind_is_dropped_and_the_slow_replicas_answer_is_taken()
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 12, 7, 12, 0, 0, TimeSpan.Zero));
        var reads = new List<(string Replica, ulong From)>();
        var slow = new TaskCompletionSource<ReadBatch>();
        RecordReads(reads, (key, from) =>
            key != ReplicaGrainKey.Of(7, 0, 0)
                ? Task.FromException<ReadBatch>(new ArgumentOutOfRangeException("fromOffset", from, $"offset {from} of partition 0 is beyond the committed end 3"))
                : from == 5 ? slow.Task : Task.FromResult(Batch(from, 2)));
        var consumer = Hedging(time, TimeSpan.FromMilliseconds(500));
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(30));

        var taken = TakeAsync(consumer.ConsumeAsync(Log, 0, ConsumeFrom.Offset(5), stop.Token), 4);
        await UntilAsync(() => Count(reads) == 1);
        time.Advance(TimeSpan.FromMilliseconds(500));
        await UntilAsync(() => Count(reads) == 2); // the hedge, answered "behind" at once
        slow.SetResult(Batch(5, 2));

        Assert.Equal([5ul, 6ul, 7ul, 8ul], (await taken.WaitAsync(TimeSpan.FromSeconds(10))).Select(r => r.Offset));
        Assert.Equal([(ReplicaGrainKey.Of(7, 0, 0), 5ul), (ReplicaGrainKey.Of(7, 0, 1), 5ul), (ReplicaGrainKey.Of(7, 0, 0), 7ul)], reads);
    }

    [Fact]
    public async Task The_check_whether_a_behind_replicas_refusal_is_the_partitions_end_is_hedged_too()
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 12, 7, 12, 0, 0, TimeSpan.Zero));
        var reads = new List<(string Replica, ulong From)>();
        var linearizable = new List<string>();
        _grains.OnStatus = key => Task.FromResult(Status(key, firstOffset: 0));
        // Replica 0 is behind: it has applied nothing yet.
        RecordReads(reads, (key, from) =>
            key == ReplicaGrainKey.Of(7, 0, 0)
                ? Task.FromException<ReadBatch>(new ArgumentOutOfRangeException("fromOffset", from, $"offset {from} of partition 0 is beyond the committed end 0"))
                : Task.FromResult(Batch(from, 2)));
        _grains.OnLinearizableRead = (key, from) =>
        {
            lock (linearizable)
            {
                linearizable.Add(key);
            }

            // Replica 0 forwarded the linearizable read to a leader whose silo just died: nothing answers it before the timeout.
            return key == ReplicaGrainKey.Of(7, 0, 0) ? new TaskCompletionSource<ReadBatch>().Task : Task.FromResult(Batch(from, 1));
        };
        var consumer = Hedging(time, TimeSpan.FromMilliseconds(500));
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(30));

        var taken = TakeAsync(consumer.ConsumeAsync(Log, 0, ConsumeFrom.Offset(5), stop.Token), 2);
        await UntilAsync(() => Count(linearizable) == 1);
        time.Advance(TimeSpan.FromMilliseconds(500));

        Assert.Equal([5ul, 6ul], (await taken.WaitAsync(TimeSpan.FromSeconds(10))).Select(r => r.Offset));
        Assert.Equal([ReplicaGrainKey.Of(7, 0, 0), ReplicaGrainKey.Of(7, 0, 1)], linearizable);
        Assert.Equal([(ReplicaGrainKey.Of(7, 0, 0), 5ul), (ReplicaGrainKey.Of(7, 0, 1), 5ul)], reads);
    }

    [Fact]
    public async Task With_HedgeAfter_not_shorter_than_RequestTimeout_a_silent_replica_is_left_only_at_the_timeout()
    {
        var time = new FakeTimeProvider(new DateTimeOffset(2026, 12, 7, 12, 0, 0, TimeSpan.Zero));
        var reads = new List<(string Replica, ulong From)>();
        RecordReads(reads, (key, from) =>
            key == ReplicaGrainKey.Of(7, 0, 0) ? new TaskCompletionSource<ReadBatch>().Task : Task.FromResult(Batch(from, 2)));
        var consumer = Hedging(time, TimeSpan.FromSeconds(10));
        using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(30));

        var taken = TakeAsync(consumer.ConsumeAsync(Log, 0, ConsumeFrom.Offset(5), stop.Token), 2);
        await UntilAsync(() => Count(reads) == 1);
        time.Advance(TimeSpan.FromMilliseconds(9_999));
        await Task.Delay(20);
        Assert.Equal(1, Count(reads));
        time.Advance(TimeSpan.FromMilliseconds(1));

        Assert.Equal([5ul, 6ul], (await taken.WaitAsync(TimeSpan.FromSeconds(10))).Select(r => r.Offset));
        Assert.Equal([(ReplicaGrainKey.Of(7, 0, 0), 5ul), (ReplicaGrainKey.Of(7, 0, 1), 5ul)], reads);
    }

    /// <summary>Replicas answer reads with <paramref name="answer"/>; each read is recorded in <paramref name="reads"/> first.</summary>
    private void RecordReads(List<(string Replica, ulong From)> reads, Func<string, ulong, Task<ReadBatch>> answer) =>
        _grains.OnRead = (key, from) =>
        {
            lock (reads)
            {
                reads.Add((key, from));
            }

            return answer(key, from);
        };

    /// <summary>A consumer on a fake clock with a 10 s request timeout and the given <see cref="ConsumerOptions.HedgeAfter"/>.</summary>
    private LogConsumer Hedging(FakeTimeProvider time, TimeSpan hedgeAfter) =>
        new(_grains, new ConsumerOptions { HedgeAfter = hedgeAfter, RequestTimeout = TimeSpan.FromSeconds(10) }, time);

    private static ReadBatch Batch(ulong from, int count) =>
        new([.. Enumerable.Range(0, count).Select(i => new CommittedRecord(1, from + (ulong)i, 0, null, [(byte)(from + (ulong)i)], null))], from + (ulong)count, 0, 10);

    private static int Count<T>(List<T> list)
    {
        lock (list)
        {
            return list.Count;
        }
    }

    private static async Task UntilAsync(Func<bool> condition)
    {
        for (var waited = 0; !condition(); waited++)
        {
            Assert.True(waited < 1000, "the condition did not hold within 10 s");
            await Task.Delay(10);
        }
    }

    private static async Task<List<ConsumedRecord>> TakeAsync(IAsyncEnumerable<ConsumedRecord> records, int count)
    {
        var taken = new List<ConsumedRecord>();
        await foreach (var record in records)
        {
            taken.Add(record);
            if (taken.Count == count)
            {
                break;
            }
        }

        return taken;
    }

    private static async Task<ConsumedRecord> FirstAsync(IAsyncEnumerable<ConsumedRecord> records)
    {
        await foreach (var record in records)
        {
            return record;
        }

        throw new InvalidOperationException("the enumeration ended without a record");
    }

    private static ReplicaStatus Status(string key, ulong firstOffset) => new() { Key = key, Silo = "s", FirstOffset = firstOffset, NextOffset = 10 };
}
