using Microsoft.Extensions.Time.Testing;
using Orleans.Runtime;
using Pyralog.Client.Logs;
using Pyralog.Grains.Interfaces.Logs;

namespace Pyralog.Client.Tests.Logs;

/// <summary>
/// The producer against scripted replicas (<see cref="FakeGrains"/>) on a <see cref="FakeTimeProvider"/>: nothing is
/// sent before its time, and each kind of failure leads to a retry of the same batch or to failed records.
/// </summary>
public sealed class ProducerTests
{
    private const string Log = "orders";

    // A log of its own for the tests that count retries, named anew for each test: the meter is global, and a retry a
    // test's producer was still making as the test ended would otherwise count in the next test's figure.
    private readonly string Forgetful = $"forgetful-{Guid.NewGuid():N}";
    private static readonly TimeSpan Linger = TimeSpan.FromMilliseconds(5);

    // A record of a 100-byte value and no key or headers: 8 + 4 + 4 + 100 + 2 encoded bytes.
    private const int RecordBytes = 118;
    private const int Header = 29;

    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 11, 30, 12, 0, 0, TimeSpan.Zero));
    private readonly FakeGrains _grains;

    public ProducerTests() =>
        _grains = new(FakeGrains.Log(Log, partitions: 1), FakeGrains.Log("small", 1, id: 8, maxRecordBytes: 100), FakeGrains.Log(Forgetful, 1, id: 9),
            FakeGrains.Log("huge", 1, id: 10, maxRecordBytes: LogSettings.MaxBatchBytes));

    [Fact]
    public async Task A_batch_waits_for_its_linger_then_goes_as_one_request()
    {
        await using var producer = await WarmedUpAsync(new ProducerOptions { Linger = Linger });
        var acks = new[] { producer.ProduceAsync(Log, Rec(1)), producer.ProduceAsync(Log, Rec(2)), producer.ProduceAsync(Log, Rec(3)) };
        _time.Advance(Linger - TimeSpan.FromMilliseconds(1));
        Assert.Single(_grains.Calls); // the warm-up's only

        _time.Advance(TimeSpan.FromMilliseconds(1));
        var call = Assert.Single(_grains.Calls.Skip(1));
        Assert.Equal([1, 2, 3], call.Batch.Records.Select(r => (int)r.Value[0]));
        Assert.Equal(1, call.Batch.FirstSequence); // after the warm-up's record 0
        Assert.Equal([1ul, 2ul, 3ul], (await Task.WhenAll(acks)).Select(a => a.Offset));
    }

    [Fact]
    public async Task A_batch_that_reaches_MaxBatchBytes_goes_at_once_and_a_record_that_does_not_fit_starts_the_next()
    {
        var options = new ProducerOptions { Linger = TimeSpan.FromSeconds(30), MaxBatchBytes = Header + 2 * RecordBytes };
        await using var producer = await WarmedUpAsync(options);
        var first = producer.ProduceAsync(Log, Rec(1));
        Assert.Single(_grains.Calls);
        var second = producer.ProduceAsync(Log, Rec(2)); // exactly full: sealed and sent without lingering
        Assert.Equal([1, 2], _grains.Calls[1].Batch.Records.Select(r => (int)r.Value[0]));
        await Task.WhenAll(first, second);

        await using var tight = await WarmedUpAsync(options with { MaxBatchBytes = Header + 2 * RecordBytes - 1 });
        var callsBefore = _grains.Calls.Length;
        var third = tight.ProduceAsync(Log, Rec(3));
        var fourth = tight.ProduceAsync(Log, Rec(4)); // does not fit beside 3: 3 goes alone, 4 opens the next batch
        Assert.Equal([3], Assert.Single(_grains.Calls.Skip(callsBefore)).Batch.Records.Select(r => (int)r.Value[0]));
        await third;
        Assert.False(fourth.IsCompleted);
        _time.Advance(TimeSpan.FromSeconds(30));
        Assert.Equal([4], _grains.Calls[^1].Batch.Records.Select(r => (int)r.Value[0]));
        await fourth;
    }

    // One record per batch, two records' room in the buffer.
    private static readonly ProducerOptions TwoRecordBuffer = new() { Linger = TimeSpan.Zero, MaxBatchBytes = Header + RecordBytes, MaxBufferedBytes = 2 * RecordBytes };

    /// <summary>From now on every request waits for its answer until the test sets it (in request order).</summary>
    private List<(FakeGrains.ProduceCall Call, TaskCompletionSource<AppendAck> Answer)> HoldAnswers()
    {
        var held = new List<(FakeGrains.ProduceCall Call, TaskCompletionSource<AppendAck> Answer)>();
        _grains.OnProduce = call =>
        {
            var answer = new TaskCompletionSource<AppendAck>(TaskCreationOptions.RunContinuationsAsynchronously);
            lock (held)
            {
                held.Add((call, answer));
            }

            return answer.Task;
        };

        return held;
    }

    [Fact]
    public async Task ProduceAsync_waits_while_the_buffer_is_full_and_resumes_when_records_are_acknowledged()
    {
        // Disposed only at the end: a failed assertion must not leave the test waiting to flush batches nobody answers.
        var producer = await WarmedUpAsync(TwoRecordBuffer);
        var held = HoldAnswers();

        var first = producer.ProduceAsync(Log, Rec(1));
        var second = producer.ProduceAsync(Log, Rec(2));
        var third = producer.ProduceAsync(Log, Rec(3)); // 2 × 118 bytes buffered: waits for space
        Assert.Equal([1, 2], _grains.Calls.Skip(1).Select(c => (int)c.Batch.Records[0].Value[0]));
        Assert.False(third.IsCompleted);

        var (call, answer) = held[0];
        answer.SetResult(_grains.Append(call));
        await first;
        await Eventually.TrueAsync(() => _grains.Calls.Length == 4, "the waiting record to be sent once space was freed");
        Assert.Equal(3, _grains.Calls[3].Batch.Records[0].Value[0]);
        Assert.Equal(3, _grains.Calls[3].Batch.FirstSequence); // after the warm-up's 0, then 1 and 2: in order

        for (var i = 1; i < 3; i++)
        {
            held[i].Answer.SetResult(_grains.Append(held[i].Call));
        }

        Assert.Equal([2ul, 3ul], (await Task.WhenAll(second, third)).Select(a => a.Offset));
        await producer.DisposeAsync();
    }

    /// <summary>
    /// A cancellation that lands after the drain took a waiting record off the queue and before it appended it: the record
    /// reports cancelled, so it must not reach a batch (it could commit while its caller was told it was not produced),
    /// and a flush in that moment waits for it like for any record produced before it.
    /// </summary>
    [Fact]
    public async Task A_record_cancelled_while_the_drain_hands_it_over_is_not_sent_and_a_flush_then_waits_for_it()
    {
        var producer = await WarmedUpAsync(TwoRecordBuffer);
        var held = HoldAnswers();
        var first = producer.ProduceAsync(Log, Rec(1));
        var second = producer.ProduceAsync(Log, Rec(2));
        using var cancel = new CancellationTokenSource();
        var third = producer.ProduceAsync(Log, Rec(3), cancel.Token); // no room: waits
        var flushed = new TaskCompletionSource<Task>(TaskCreationOptions.RunContinuationsAsynchronously);
        producer.BeforeHandOver = record =>
        {
            Assert.Equal(3, record.Value[0]);
            var flush = producer.FlushAsync();
            Assert.False(flush.IsCompleted); // records 2 and 3 are not settled
            cancel.Cancel();
            flushed.SetResult(flush);
        };

        held[0].Answer.SetResult(_grains.Append(held[0].Call));
        await first;
        var flush = await flushed.Task.WaitAsync(TimeSpan.FromSeconds(30));
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => third);
        held[1].Answer.SetResult(_grains.Append(held[1].Call));
        await flush.WaitAsync(TimeSpan.FromSeconds(30));
        Assert.Equal(2ul, (await second).Offset);
        await producer.DisposeAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(10)); // a sent third record would hold it
        Assert.Equal([1, 2], _grains.Calls.Skip(1).Select(c => (int)c.Batch.Records[0].Value[0]));
    }

    [Fact]
    public async Task A_delivery_timeout_of_TimeSpan_MaxValue_means_retry_until_acknowledged_not_fail_at_once()
    {
        await using var producer = await WarmedUpAsync(new ProducerOptions { Linger = TimeSpan.Zero, DeliveryTimeout = TimeSpan.MaxValue });
        Assert.Equal(1ul, (await producer.ProduceAsync(Log, Rec(1))).Offset);
    }

    [Fact]
    public async Task SendAsync_returns_once_the_record_is_buffered_so_a_sending_loop_holds_at_most_the_buffer()
    {
        var producer = await WarmedUpAsync(TwoRecordBuffer);
        var held = HoldAnswers();

        var first = await producer.SendAsync(Log, Rec(1));
        var second = await producer.SendAsync(Log, Rec(2));
        var sending = producer.SendAsync(Log, Rec(3)).AsTask(); // 2 × 118 bytes buffered: the send itself waits
        Assert.False(sending.IsCompleted);
        Assert.False(first.IsCompleted);

        // A send that is cancelled while it waits buffers nothing.
        using (var cancel = new CancellationTokenSource())
        {
            var cancelled = producer.SendAsync(Log, Rec(9), cancel.Token).AsTask();
            await cancel.CancelAsync();
            await Assert.ThrowsAnyAsync<OperationCanceledException>(() => cancelled);
        }

        held[0].Answer.SetResult(_grains.Append(held[0].Call));
        Assert.Equal(1ul, (await first).Offset);
        var third = await sending.WaitAsync(TimeSpan.FromSeconds(30)); // room again: buffered now
        await Eventually.TrueAsync(() => _grains.Calls.Length == 4, "the third record to be sent");
        Assert.Equal([1, 2, 3], _grains.Calls.Skip(1).Select(c => (int)c.Batch.Records[0].Value[0]));

        for (var i = 1; i < 3; i++)
        {
            held[i].Answer.SetResult(_grains.Append(held[i].Call));
        }

        Assert.Equal([2ul, 3ul], (await Task.WhenAll(second, third)).Select(a => a.Offset));
        await Assert.ThrowsAsync<InvalidOperationException>(async () => await producer.SendAsync("no-such-log", Rec(4)));
        await producer.DisposeAsync();
        await Assert.ThrowsAsync<ObjectDisposedException>(async () => await await producer.SendAsync(Log, Rec(5)));
    }

    [Fact]
    public async Task A_lost_acknowledgement_is_retried_with_the_same_batch_and_answered_as_a_duplicate()
    {
        await using var producer = await WarmedUpAsync(new ProducerOptions { Linger = TimeSpan.Zero });
        var lost = 0;
        _grains.OnProduce = call =>
        {
            var ack = _grains.Append(call); // appended, but the answer does not arrive
            return Interlocked.Increment(ref lost) == 1 ? Task.FromException<AppendAck>(new TimeoutException("lost")) : Task.FromResult(ack);
        };

        var record = producer.ProduceAsync(Log, Rec(1));
        await Eventually.TrueAsync(() => _grains.Calls.Length == 2, "the first attempt");
        Assert.False(record.IsCompleted);
        await AdvanceUntilAsync(() => _grains.Calls.Length == 3, "the retry after the backoff");
        Assert.Equal(new RecordAck(0, 1, 1, Duplicate: true), await record);
        Assert.Same(_grains.Calls[1].Batch, _grains.Calls[2].Batch); // the same producer id, sequence and records
        Assert.Equal(ReplicaGrainKey.Of(7, 0, 1), _grains.Calls[2].ReplicaKey); // the silent replica is skipped
    }

    [Fact]
    public async Task Requests_a_dead_leader_leaves_unanswered_go_to_the_leader_its_siblings_name_long_before_the_request_timeout()
    {
        var options = new ProducerOptions { Linger = TimeSpan.Zero, RequestTimeout = TimeSpan.FromSeconds(30), DeliveryTimeout = TimeSpan.FromSeconds(60) };
        await using var producer = await WarmedUpAsync(options);
        var old = ReplicaGrainKey.Of(7, 0, 0);
        var siblingsFollow = 0; // which slot the siblings name as leader
        _grains.OnProduce = call =>
        {
            var ack = _grains.Append(call); // the old leader appended it, but its answer never comes
            return call.ReplicaKey == old ? new TaskCompletionSource<AppendAck>().Task : Task.FromResult(ack);
        };
        _grains.OnStatus = key => Task.FromResult(new ReplicaStatus
        {
            Key = key,
            Silo = "s",
            Role = key == ReplicaGrainKey.Of(7, 0, Volatile.Read(ref siblingsFollow)) ? ReplicaRole.Leader : ReplicaRole.Follower,
            Term = 2,
            LeaderReplica = Volatile.Read(ref siblingsFollow),
        });

        // Three batches in flight to the old leader; while its siblings still follow it, the producer keeps waiting.
        var started = _time.GetTimestamp();
        var records = new[] { producer.ProduceAsync(Log, Rec(1)), producer.ProduceAsync(Log, Rec(2)), producer.ProduceAsync(Log, Rec(3)) };
        await Eventually.TrueAsync(() => _grains.Calls.Length == 4, "three batches in flight");
        for (var i = 0; i < 40; i++)
        {
            _time.Advance(TimeSpan.FromMilliseconds(50));
            await Task.Delay(1);
        }

        Assert.Equal(4, _grains.Calls.Length); // 2 s of silence, but no other replica leads: nothing was resent
        Assert.DoesNotContain(records, r => r.IsCompleted);

        // Replica 1 wins an election: the next look finds it, and every batch in flight goes there, unchanged.
        Volatile.Write(ref siblingsFollow, 1);
        await AdvanceUntilAsync(() => records.All(r => r.IsCompleted), "the records' acknowledgements from the new leader");
        Assert.True(_time.GetElapsedTime(started) < TimeSpan.FromSeconds(3), $"the failover took {_time.GetElapsedTime(started)} of fake time");
        Assert.Equal([1UL, 2UL, 3UL], (await Task.WhenAll(records)).Select(a => a.Offset));
        Assert.All(await Task.WhenAll(records), a => Assert.True(a.Duplicate)); // appended once, by the old leader
        var calls = _grains.Calls;
        Assert.All(calls.Skip(4), c => Assert.Equal(ReplicaGrainKey.Of(7, 0, 1), c.ReplicaKey));
        Assert.Equal(calls.Skip(1).Take(3).Select(c => c.Batch), calls.Skip(4).Select(c => c.Batch)); // the same batches, in order
    }

    /// <summary>
    /// While the oldest batch's answer is outstanding, later batches acknowledged do not open the window further: at most
    /// MaxInFlight batches from the oldest unacknowledged one are sent, so resent it is still among the 5 batches the
    /// partition remembers (sent further on, a lost answer made its outcome unknowable).
    /// </summary>
    [Fact]
    public async Task No_batch_goes_MaxInFlight_batches_past_the_oldest_one_not_yet_acknowledged()
    {
        await using var producer = await WarmedUpAsync(new ProducerOptions { Linger = TimeSpan.Zero, MaxInFlight = 5 });
        var held = new TaskCompletionSource<AppendAck>(TaskCreationOptions.RunContinuationsAsynchronously);
        var first = _grains.Calls.Length;
        _grains.OnProduce = call => call.Batch.FirstSequence == 1 ? held.Task : Task.FromResult(_grains.Append(call));

        var records = Enumerable.Range(1, 12).Select(i => producer.ProduceAsync(Log, Rec((byte)i))).ToArray();
        try
        {
            await Eventually.TrueAsync(() => records[1..5].All(r => r.IsCompletedSuccessfully), "the four batches after the held one");
            await Task.Delay(50); // sends follow acknowledgements on the acknowledging thread: a sixth would have gone by now
            Assert.Equal(5, _grains.Calls.Length - first); // the held batch and the four after it
            Assert.All(records[5..], r => Assert.False(r.IsCompleted));
        }
        finally
        {
            held.TrySetResult(_grains.Append(_grains.Calls[first])); // answered late, also when the test failed (disposing waits for it)
        }

        var acks = await Task.WhenAll(records);
        Assert.Equal(Enumerable.Range(1, 12).Select(i => (ulong)i), acks.Select(a => a.Offset).Order()); // the fake appends in arrival order
    }

    /// <summary>
    /// Without a linger, a batch goes at once only while nothing is in flight; behind batches in flight it waits until it
    /// holds half as many records as they hold on average, until one of them is answered, or until a flush.
    /// </summary>
    [Fact]
    public async Task Without_a_linger_a_small_batch_behind_larger_ones_in_flight_waits_for_records_or_an_answer()
    {
        // Disposed only at the end: a failed assertion must not leave the test waiting to flush batches nobody answers.
        var producer = await WarmedUpAsync(new ProducerOptions { Linger = TimeSpan.Zero, MaxInFlight = 5 });
        var first = _grains.Calls.Length;
        var held = new List<(FakeGrains.ProduceCall Call, TaskCompletionSource<AppendAck> Answer)>();
        _grains.OnProduce = call =>
        {
            var answer = new TaskCompletionSource<AppendAck>(TaskCreationOptions.RunContinuationsAsynchronously);
            lock (held)
            {
                held.Add((call, answer));
            }

            return answer.Task;
        };

        int[] Sent(int call) => [.. _grains.Calls[first + call].Batch.Records.Select(r => (int)r.Value[0])];
        var records = new List<Task<RecordAck>>();
        void Produce(int from, int to)
        {
            for (var i = from; i <= to; i++)
            {
                records.Add(producer.ProduceAsync(Log, Rec((byte)i)));
            }
        }

        // Answers request `call` and waits until its records are acknowledged (what the answer sends follows at once; a
        // send it should not have made shifts every later request, which the exact checks below would see).
        async Task AnswerAsync(int call)
        {
            FakeGrains.ProduceCall request;
            TaskCompletionSource<AppendAck> answer;
            lock (held)
            {
                (request, answer) = held[call]; // the answer's own sends add to the list from another thread
            }

            answer.SetResult(_grains.Append(request));
            var firstRecord = request.Batch.Records[0].Value[0];
            await Eventually.TrueAsync(() => records[firstRecord - 1].IsCompleted, $"the answer to request {call}");
        }

        Task SentAsync(int calls, string what) => Eventually.TrueAsync(() => _grains.Calls.Length - first == calls, what);

        var flushed = Task.CompletedTask;
        try
        {
            // Batches of one record in flight: a record behind them goes at once, up to five requests.
            Produce(1, 15);
            Assert.Equal(5, _grains.Calls.Length - first);
            Assert.Equal([5], Sent(4));

            // An answer sends what waited for a request (records 6 to 15), however few.
            await AnswerAsync(0);
            await SentAsync(6, "the waiting records sent once a request was answered");
            Assert.Equal(Enumerable.Range(6, 10), Sent(5));
            for (var call = 1; call <= 4; call++)
            {
                await AnswerAsync(call);
            }

            Assert.Equal(6, _grains.Calls.Length - first); // nothing was waiting

            // Ten records in flight in one batch: a new batch waits until it holds five.
            Produce(16, 19);
            Assert.Equal(6, _grains.Calls.Length - first);
            Produce(20, 20);
            Assert.Equal(7, _grains.Calls.Length - first);
            Assert.Equal([16, 17, 18, 19, 20], Sent(6));

            // Fifteen records in two batches: one record waits, and goes when either is answered.
            Produce(21, 21);
            Assert.Equal(7, _grains.Calls.Length - first);
            await AnswerAsync(5);
            await SentAsync(8, "the waiting record sent once a batch in flight was answered");
            Assert.Equal([21], Sent(7));

            // A flush does not wait either.
            Produce(22, 22);
            Assert.Equal(8, _grains.Calls.Length - first);
            flushed = producer.FlushAsync();
            Assert.Equal(9, _grains.Calls.Length - first);
            Assert.Equal([22], Sent(8));
        }
        finally
        {
            lock (held)
            {
                foreach (var (call, answer) in held.Where(h => !h.Answer.Task.IsCompleted))
                {
                    answer.SetResult(_grains.Append(call)); // in request order: the offsets below follow it
                }
            }
        }

        await flushed;
        Assert.Equal(Enumerable.Range(1, 22).Select(i => (ulong)i), (await Task.WhenAll(records)).Select(a => a.Offset).Order());
        await producer.DisposeAsync();
    }

    /// <summary>
    /// A batch sent behind one in flight can reach the leader first and be refused as ahead of the sequence, and the
    /// refusal can come back after the batch before it was acknowledged: it is resent under the same producer id, not
    /// taken for a partition that forgot the producer (which restarts the session and gives up every batch after it
    /// that ever went unanswered).
    /// </summary>
    [Fact]
    public async Task A_batch_refused_for_overtaking_the_one_before_it_is_resent_under_the_same_producer_id()
    {
        await using var producer = await WarmedUpAsync(new ProducerOptions { Linger = TimeSpan.Zero });
        var first = _grains.Calls.Length;
        var heldA = new TaskCompletionSource<AppendAck>(TaskCreationOptions.RunContinuationsAsynchronously);
        var heldB = new TaskCompletionSource<AppendAck>(TaskCreationOptions.RunContinuationsAsynchronously);
        _grains.OnProduce = call => (_grains.Calls.Length - first) switch
        {
            1 => heldA.Task,
            2 => heldB.Task,
            _ => Task.FromResult(_grains.Append(call)),
        };

        var a = producer.ProduceAsync(Log, Rec(1));
        var b = producer.ProduceAsync(Log, Rec(2));
        await Eventually.TrueAsync(() => _grains.Calls.Length - first == 2, "both batches sent");
        var callA = _grains.Calls[first];
        var callB = _grains.Calls[first + 1];
        heldA.SetResult(_grains.Append(callA)); // A arrives after B was refused, and is appended
        await a;
        heldB.SetException(new ProducerSequenceException(callB.ReplicaKey, callB.Batch.ProducerId, callB.Batch.FirstSequence, callA.Batch.FirstSequence, tooOld: false));

        await AdvanceUntilAsync(() => b.IsCompleted, "the refused batch acknowledged");
        Assert.Equal(2ul, (await b).Offset);
        var resent = _grains.Calls[^1];
        Assert.Same(callB.Batch, resent.Batch); // the same producer id and sequence: no new session
        Assert.Equal(3, _grains.Calls.Length - first);
    }

    [Fact]
    public async Task While_the_partition_elects_a_leader_retries_come_at_a_fixed_short_pace()
    {
        await using var producer = await WarmedUpAsync(new ProducerOptions { Linger = TimeSpan.Zero });
        var sentAt = new List<DateTimeOffset>();
        _grains.OnProduce = call =>
        {
            lock (sentAt)
            {
                sentAt.Add(_time.GetUtcNow());
                return sentAt.Count <= 12
                    ? Task.FromException<AppendAck>(new NotLeaderException(call.ReplicaKey, leaderReplicaKey: null)) // electing: no leader known
                    : Task.FromResult(_grains.Append(call));
            }
        };

        var record = producer.ProduceAsync(Log, Rec(1));
        await AdvanceUntilAsync(() => record.IsCompleted, "the record's acknowledgement", TimeSpan.FromMilliseconds(10));

        Assert.Equal(1ul, (await record).Offset);
        lock (sentAt)
        {
            Assert.Equal(13, sentAt.Count);
            for (var i = 1; i < sentAt.Count; i++)
            {
                // 50–100 ms each (the fake clock moves in 10 ms steps), where an exponential backoff reaches 0.5–1 s by the sixth.
                Assert.InRange(sentAt[i] - sentAt[i - 1], TimeSpan.FromMilliseconds(50), TimeSpan.FromMilliseconds(110));
            }
        }
    }

    /// <summary>
    /// The leader's silo is lost: the transport fails a request to it at once, and its siblings name it as leader until
    /// they elect another. The producer asks a sibling again at the election pace rather than going back to the lost
    /// replica (each round a failure, the backoff growing past the election's end), and finds the new leader within one
    /// poll of the election.
    /// </summary>
    [Fact]
    public async Task Siblings_that_still_name_an_unreachable_leader_are_asked_again_at_the_election_pace()
    {
        await using var producer = await WarmedUpAsync(new ProducerOptions { Linger = TimeSpan.Zero });
        var lost = ReplicaGrainKey.Of(7, 0, 0);
        var elected = ReplicaGrainKey.Of(7, 0, 1);
        var start = _time.GetUtcNow();
        var electedAt = start + TimeSpan.FromMilliseconds(600);
        var calls = new List<(TimeSpan At, string Replica)>();
        _grains.OnProduce = call =>
        {
            lock (calls)
            {
                calls.Add((_time.GetUtcNow() - start, call.ReplicaKey));
            }

            return call.ReplicaKey == lost ? Task.FromException<AppendAck>(new SiloUnavailableException("the silo is gone"))
                : _time.GetUtcNow() < electedAt ? Task.FromException<AppendAck>(new NotLeaderException(call.ReplicaKey, lost)) // not noticed yet
                : call.ReplicaKey == elected ? Task.FromResult(_grains.Append(call))
                : Task.FromException<AppendAck>(new NotLeaderException(call.ReplicaKey, elected));
        };

        var record = producer.ProduceAsync(Log, Rec(1));
        await AdvanceUntilAsync(() => record.IsCompleted, "the record's acknowledgement", TimeSpan.FromMilliseconds(10));

        Assert.Equal(1ul, (await record).Offset);
        lock (calls)
        {
            Assert.Equal(lost, calls[0].Replica);
            Assert.Single(calls, c => c.Replica == lost); // never sent back to it
            var polls = calls.Skip(1).ToList();
            Assert.All(polls, c => Assert.Equal(elected, c.Replica));
            for (var i = 1; i < polls.Count; i++)
            {
                Assert.InRange(polls[i].At - polls[i - 1].At, TimeSpan.FromMilliseconds(50), TimeSpan.FromMilliseconds(110));
            }

            Assert.InRange(polls[^1].At, TimeSpan.FromMilliseconds(600), TimeSpan.FromMilliseconds(710)); // one poll after the election
        }
    }

    /// <summary>A replica the transport failed to reach once but that is alive after all is followed again when its siblings still name it a second later.</summary>
    [Fact]
    public async Task A_replica_suspected_unreachable_is_followed_again_once_the_suspicion_expires()
    {
        await using var producer = await WarmedUpAsync(new ProducerOptions { Linger = TimeSpan.Zero });
        var leader = ReplicaGrainKey.Of(7, 0, 0);
        var start = _time.GetUtcNow();
        var calls = new List<(TimeSpan At, string Replica)>();
        _grains.OnProduce = call =>
        {
            lock (calls)
            {
                calls.Add((_time.GetUtcNow() - start, call.ReplicaKey));
                return call.ReplicaKey != leader ? Task.FromException<AppendAck>(new NotLeaderException(call.ReplicaKey, leader))
                    : calls.Count == 1 ? Task.FromException<AppendAck>(new SiloUnavailableException("a connection failed"))
                    : Task.FromResult(_grains.Append(call));
            }
        };

        var record = producer.ProduceAsync(Log, Rec(1));
        await AdvanceUntilAsync(() => record.IsCompleted, "the record acknowledged by the leader");
        Assert.Equal(1ul, (await record).Offset);
        lock (calls)
        {
            Assert.Equal(leader, calls[^1].Replica);
            Assert.Equal(2, calls.Count(c => c.Replica == leader));
            Assert.InRange(calls[^1].At, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(1.2));
        }
    }

    [Fact]
    public async Task A_redirect_to_the_leader_is_followed_at_once()
    {
        await using var producer = await WarmedUpAsync(new ProducerOptions { Linger = TimeSpan.Zero });
        var leader = ReplicaGrainKey.Of(7, 0, 2);
        _grains.OnProduce = call => call.ReplicaKey == leader
            ? Task.FromResult(_grains.Append(call))
            : Task.FromException<AppendAck>(new NotLeaderException(call.ReplicaKey, leader));

        var ack = await producer.ProduceAsync(Log, Rec(1)); // no time passes: no backoff
        Assert.Equal(1ul, ack.Offset);
        Assert.Equal([ReplicaGrainKey.Of(7, 0, 0), leader], _grains.Calls.Skip(1).Select(c => c.ReplicaKey));
        await producer.ProduceAsync(Log, Rec(2));
        Assert.Equal(leader, _grains.Calls[^1].ReplicaKey); // remembered
    }

    [Fact]
    public async Task A_refused_batch_fails_its_records_at_once_and_the_partition_continues_under_a_fresh_producer_id()
    {
        await using var producer = await WarmedUpAsync(new ProducerOptions { Linger = TimeSpan.Zero });
        var refused = new ArgumentException("record 0 of the batch is 118 bytes, over the log's limit of 100 bytes");
        _grains.OnProduce = call => Task.FromException<AppendAck>(refused);
        var e = await Assert.ThrowsAsync<ProduceException>(() => producer.ProduceAsync(Log, Rec(1)));
        Assert.Same(refused, e.InnerException);
        Assert.Equal((Log, 0, 1, true), (e.Log, e.Partition, e.RecordCount, e.Refused));
        Assert.Equal("1 record of log 'orders' partition 0 was not acknowledged: the partition refused the batch, nothing was appended " +
            "(last error: record 0 of the batch is 118 bytes, over the log's limit of 100 bytes)", e.Message);
        Assert.Equal(2, _grains.Calls.Length); // not retried

        _grains.OnProduce = call => Task.FromResult(_grains.Append(call));
        await producer.ProduceAsync(Log, Rec(2));
        var (before, after) = (_grains.Calls[1].Batch, _grains.Calls[2].Batch);
        Assert.NotEqual(before.ProducerId, after.ProducerId);
        Assert.Equal(0, after.FirstSequence);
    }

    [Fact]
    public async Task A_record_over_the_logs_limit_fails_alone_before_it_is_sent()
    {
        await using var producer = new LogProducer(_grains, new ProducerOptions { Linger = TimeSpan.Zero }, _time);
        var e = await Assert.ThrowsAsync<ArgumentException>(() => producer.ProduceAsync("small", Rec(1)));
        Assert.Equal("the record is 118 bytes, over the limit of log 'small' of 100 bytes (Parameter 'record')", e.Message);

        // A log may allow records as large as a batch: one must still fit a batch with its header.
        var record = new ProducerRecord(null, new byte[LogSettings.MaxBatchBytes - 30]);
        e = await Assert.ThrowsAsync<ArgumentException>(() => producer.ProduceAsync("huge", record));
        Assert.Equal($"the record is {LogSettings.MaxBatchBytes - 12} bytes, over the limit of log 'huge' of {LogSettings.MaxBatchBytes - 29} bytes (Parameter 'record')", e.Message);
        Assert.Empty(_grains.Calls);
    }

    [Fact]
    public async Task A_malformed_record_fails_alone_before_it_is_sent_naming_what_is_wrong()
    {
        await using var producer = new LogProducer(_grains, new ProducerOptions { Linger = TimeSpan.Zero }, _time);
        var longName = new ProducerRecord(null, [1], [new RecordHeader(new string('a', ProducerRecord.MaxHeaderNameBytes + 1), [])]);
        var e = await Assert.ThrowsAsync<ArgumentException>(() => producer.ProduceAsync(Log, longName));
        Assert.Equal("the record has a header name of 65536 UTF-8 bytes (header 0; at most 65535) (Parameter 'record')", e.Message);
        var nullValue = new ProducerRecord(null, [1], [new RecordHeader("ok", []), new RecordHeader("trace", null!)]);
        e = await Assert.ThrowsAsync<ArgumentException>(() => producer.ProduceAsync(Log, nullValue));
        Assert.Equal("the record has a header without a value (header 1, 'trace': null) (Parameter 'record')", e.Message);
        Assert.Empty(_grains.Calls);
    }

    [Fact]
    public async Task A_batch_too_old_for_the_partition_to_remember_fails_as_unknown()
    {
        await using var producer = await WarmedUpAsync(new ProducerOptions { Linger = TimeSpan.Zero });
        _grains.OnProduce = call => Task.FromException<AppendAck>(new ProducerSequenceException(call.ReplicaKey, call.Batch.ProducerId, call.Batch.FirstSequence, 9, tooOld: true));
        var e = await Assert.ThrowsAsync<ProduceException>(() => producer.ProduceAsync(Log, Rec(1)));
        Assert.IsType<ProducerSequenceException>(e.InnerException);
        Assert.Contains("cannot be told", e.Message);
        Assert.Equal(2, _grains.Calls.Length);
    }

    [Fact]
    public async Task A_partition_that_forgot_the_producer_with_nothing_else_in_flight_gets_the_batch_under_a_fresh_producer_id_once()
    {
        using var retries = new RetryCount(Forgetful);
        await using var producer = await WarmedUpAsync(new ProducerOptions { Linger = TimeSpan.Zero }, Forgetful);
        var forgotten = WarmUpProducerId;
        _grains.OnProduce = call => call.Batch.ProducerId == forgotten
            ? Task.FromException<AppendAck>(Unknown(call))
            : Task.FromResult(_grains.Append(call));

        // No time passes (no backoff); the real-time bound only turns a producer that never gets there into a failure.
        Assert.Equal(new RecordAck(0, 1, 1, Duplicate: false), await producer.ProduceAsync(Forgetful, Rec(1)).WaitAsync(TimeSpan.FromSeconds(10)));
        var calls = _grains.Calls;
        Assert.Equal(3, calls.Length);
        var (refused, resent) = (calls[1].Batch, calls[2].Batch);
        Assert.Equal((forgotten, 1L), (refused.ProducerId, refused.FirstSequence));
        Assert.NotEqual(forgotten, resent.ProducerId);
        Assert.Equal(0, resent.FirstSequence);
        Assert.Equal(refused.Records, resent.Records);
        Assert.Equal(1, retries.Value);

        // The partition knows the new id now: the next record follows it in sequence, appended right after the first.
        Assert.Equal(new RecordAck(0, 1, 2, Duplicate: false), await producer.ProduceAsync(Forgetful, Rec(2)));
        Assert.Equal((resent.ProducerId, 1L), (_grains.Calls[3].Batch.ProducerId, _grains.Calls[3].Batch.FirstSequence));
        Assert.Equal(4, _grains.Calls.Length);
    }

    [Fact]
    public async Task A_partition_that_forgot_the_producer_while_an_earlier_batch_went_unanswered_fails_that_batch_as_a_possible_duplicate()
    {
        await using var producer = await WarmedUpAsync(new ProducerOptions { Linger = TimeSpan.Zero }, Forgetful);
        var forgotten = WarmUpProducerId;
        var firstAnswer = new TaskCompletionSource<AppendAck>(TaskCreationOptions.RunContinuationsAsynchronously);
        _grains.OnProduce = call =>
        {
            if (call.Batch.ProducerId != forgotten)
            {
                return Task.FromResult(_grains.Append(call));
            }

            if (!firstAnswer.Task.IsCompleted && call.Batch.FirstSequence == 1)
            {
                _grains.Append(call); // appended, then the partition forgets the producer; the answer is held, then lost
                return firstAnswer.Task;
            }

            return Task.FromException<AppendAck>(Unknown(call));
        };

        using var retries = new RetryCount(Forgetful);
        var first = producer.ProduceAsync(Forgetful, Rec(1));
        var second = producer.ProduceAsync(Forgetful, Rec(2)); // sent while the first is in flight, refused
        await Eventually.TrueAsync(() => _grains.Calls.Length == 3, "both batches sent");
        Assert.Equal([1L, 2L], _grains.Calls.Skip(1).Select(c => c.Batch.FirstSequence));
        Assert.False(first.IsCompleted);
        Assert.False(second.IsCompleted);

        firstAnswer.SetException(new TimeoutException("lost"));
        await AdvanceUntilAsync(() => first.IsCompleted && second.IsCompleted, "the outcome of both records");
        var e = await Assert.ThrowsAsync<ProduceException>(() => first);
        Assert.True(Assert.IsType<ProducerSequenceException>(e.InnerException).UnknownProducer);
        Assert.StartsWith($"1 record of log '{Forgetful}' partition 0 was not acknowledged: the partition no longer remembers this producer and an earlier attempt " +
            "of the batch went unanswered, so the records may have been appended; they are not sent again, which could append them twice (a possible duplicate)", e.Message);
        Assert.Equal(new RecordAck(0, 1, 2, Duplicate: false), await second); // the first one's records sit at offset 1, once

        // The first batch was resent under its own id and sequence only (refused); the second went under a fresh id from 0.
        var calls = _grains.Calls.Skip(3).Select(c => c.Batch).ToArray();
        Assert.Equal(2, calls.Length);
        Assert.Same(_grains.Calls[1].Batch, calls[0]);
        Assert.NotEqual(forgotten, calls[1].ProducerId);
        Assert.Equal(0, calls[1].FirstSequence);
        Assert.Equal(_grains.Calls[2].Batch.Records, calls[1].Records);
        Assert.Equal(2, retries.Value); // the second batch's refusal and the first one's lost answer; not the first one given up
    }

    [Fact]
    public async Task A_batch_refused_as_unknown_while_an_earlier_one_was_in_flight_goes_under_a_fresh_producer_id_once_that_one_is_acknowledged()
    {
        await using var producer = await WarmedUpAsync(new ProducerOptions { Linger = TimeSpan.Zero }, Forgetful);
        var forgotten = WarmUpProducerId;
        var firstAnswer = new TaskCompletionSource<AppendAck>(TaskCreationOptions.RunContinuationsAsynchronously);
        _grains.OnProduce = call =>
            call.Batch.ProducerId != forgotten ? Task.FromResult(_grains.Append(call))
            : call.Batch.FirstSequence == 1 ? firstAnswer.Task // appended; its answer is on its way
            : Task.FromException<AppendAck>(Unknown(call)); // meanwhile the partition forgot the producer

        var first = producer.ProduceAsync(Forgetful, Rec(1));
        var second = producer.ProduceAsync(Forgetful, Rec(2));
        await Eventually.TrueAsync(() => _grains.Calls.Length == 3, "both batches sent");
        Assert.False(second.IsCompleted); // refused, but not resent while the first one's outcome is open
        firstAnswer.SetResult(_grains.Append(_grains.Calls[1]));
        Assert.Equal(new RecordAck(0, 1, 1, Duplicate: false), await first);
        Assert.Equal(new RecordAck(0, 1, 2, Duplicate: false), await second.WaitAsync(TimeSpan.FromSeconds(10))); // no time passes: no backoff
        var calls = _grains.Calls;
        Assert.Equal(4, calls.Length);
        Assert.NotEqual(forgotten, calls[3].Batch.ProducerId);
        Assert.Equal(0, calls[3].Batch.FirstSequence);
        Assert.Equal(calls[2].Batch.Records, calls[3].Batch.Records);
    }

    [Fact]
    public async Task Records_for_a_deleted_log_fail_saying_so()
    {
        await using var producer = await WarmedUpAsync(new ProducerOptions { Linger = TimeSpan.Zero });
        _grains.Delete(Log);
        _grains.OnProduce = call => Task.FromException<AppendAck>(new InvalidOperationException("no log has id 7 (never created, or deleted)"));
        var e = await Assert.ThrowsAsync<ProduceException>(() => producer.ProduceAsync(Log, Rec(1)));
        Assert.StartsWith("1 record of log 'orders' partition 0 was not acknowledged: log 'orders' was deleted", e.Message);
        Assert.True(e.Refused);
    }

    [Fact]
    public async Task A_batch_whose_check_for_a_deleted_log_fails_is_sent_again_later()
    {
        var producer = await WarmedUpAsync(new ProducerOptions { Linger = TimeSpan.Zero });
        try
        {
            await BatchWhoseCheckFailsIsSentAgainAsync(producer);
        }
        finally
        {
            // Bounded: a batch left in flight (the failure this guards against) would hold the producer's close forever.
            await producer.DisposeAsync().AsTask().WaitAsync(TimeSpan.FromSeconds(30));
        }
    }

    private async Task BatchWhoseCheckFailsIsSentAgainAsync(LogProducer producer)
    {
        // The partition's leader stopped after a store failure, and the metadata group answers the check whether the log
        // was deleted with an error that is not a transport failure (its own leader was lost, no successor yet).
        _grains.OnProduce = _ => Task.FromException<AppendAck>(new InvalidOperationException("the replica stopped after a failure and is reactivating: disk full"));
        _grains.OnGetLog = _ => Task.FromException<LogInfo?>(new NotLeaderException("0/0/1", leaderReplicaKey: null));
        var record = producer.ProduceAsync(Log, Rec(1));
        await Eventually.TrueAsync(() => _grains.Calls.Length == 2, "the batch sent");

        _grains.OnProduce = call => Task.FromResult(_grains.Append(call));
        _grains.OnGetLog = null;
        await AdvanceUntilAsync(() => record.IsCompleted, "the batch sent again after the backoff");
        Assert.Equal(new RecordAck(0, 1, 1, Duplicate: false), await record);
        Assert.Equal(3, _grains.Calls.Length);
    }

    [Fact]
    public async Task A_partition_that_never_answers_fails_the_records_after_the_delivery_timeout()
    {
        var options = new ProducerOptions { Linger = TimeSpan.Zero, RequestTimeout = TimeSpan.FromSeconds(1), DeliveryTimeout = TimeSpan.FromSeconds(10) };
        await using var producer = await WarmedUpAsync(options);
        _grains.OnProduce = _ => new TaskCompletionSource<AppendAck>().Task; // never answers
        var started = _time.GetUtcNow();
        var record = producer.ProduceAsync(Log, Rec(1));
        await AdvanceUntilAsync(() => record.IsCompleted, "the delivery timeout");
        var e = await Assert.ThrowsAsync<ProduceException>(() => record);
        Assert.IsType<TimeoutException>(e.InnerException);
        Assert.Contains("no acknowledgement within the delivery timeout (00:00:10)", e.Message);
        Assert.False(e.Refused);
        var took = _time.GetUtcNow() - started;
        Assert.InRange(took, TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(12)); // not before, and not long after
        Assert.InRange(_grains.Calls.Length - 1, 5, 10); // about one attempt per request timeout plus backoff: no busy loop
    }

    [Fact]
    public async Task An_unknown_log_and_a_closed_producer_are_refused_clearly()
    {
        var producer = new LogProducer(_grains, new ProducerOptions(), _time);
        Assert.Equal("no log is named 'nope'", (await Assert.ThrowsAsync<InvalidOperationException>(() => producer.ProduceAsync("nope", Rec(1)))).Message);
        Assert.IsType<ArgumentOutOfRangeException>(await Record.ExceptionAsync(() => producer.ProduceAsync(Log, 1, Rec(1))));
        await producer.DisposeAsync();
        Assert.Equal("the producer is closed", (await Assert.ThrowsAsync<ObjectDisposedException>(() => producer.ProduceAsync(Log, Rec(1)))).Message);
    }

    [Theory]
    [InlineData(typeof(TimeoutException), nameof(ProduceErrorKind.Transient))]
    [InlineData(typeof(SiloUnavailableException), nameof(ProduceErrorKind.Transient))]
    [InlineData(typeof(GatewayTooBusyException), nameof(ProduceErrorKind.Transient))]
    [InlineData(typeof(NotLeaderException), nameof(ProduceErrorKind.NotLeader))]
    [InlineData(typeof(ArgumentException), nameof(ProduceErrorKind.Rejected))]
    [InlineData(typeof(ArgumentOutOfRangeException), nameof(ProduceErrorKind.Rejected))]
    [InlineData(typeof(InvalidOperationException), nameof(ProduceErrorKind.CheckLog))]
    [InlineData(typeof(NullReferenceException), nameof(ProduceErrorKind.Fatal))]
    public void Failures_are_classified_by_what_they_say_about_the_batch(Type exception, string expected) =>
        Assert.Equal(expected, ProduceErrors.Classify((Exception)Activator.CreateInstance(exception, "failed")!).ToString());

    [Fact]
    public void Sequence_failures_are_resent_in_order_unless_too_old()
    {
        Assert.Equal(ProduceErrorKind.OutOfSequence, ProduceErrors.Classify(new ProducerSequenceException("1/0/0", 5, 3, 2, tooOld: false)));
        Assert.Equal(ProduceErrorKind.TooOld, ProduceErrors.Classify(new ProducerSequenceException("1/0/0", 5, 3, 9, tooOld: true)));
        Assert.Equal(ProduceErrorKind.UnknownProducer, ProduceErrors.Classify(ProducerSequenceException.ForUnknownProducer("1/0/0", 0, 5, 3)));
    }

    /// <summary>
    /// Batches reach the leader in sequence order while records are produced on several threads and acknowledgements
    /// arrive on others (each of which may send the next batches): threads that had each decided on a batch used to send
    /// them crosswise, and the leader refuses a batch that overtakes the one before it.
    /// </summary>
    [Fact]
    public async Task Batches_reach_the_leader_in_sequence_order_when_several_threads_send_at_once()
    {
        await using var producer = await WarmedUpAsync(new ProducerOptions { Linger = TimeSpan.Zero, MaxInFlight = 5, MaxBatchBytes = Header + RecordBytes });
        var first = _grains.Calls.Length;
        _grains.OnProduce = call => Task.Run(() => _grains.Append(call)); // answered on pool threads

        const int threads = 4, perThread = 2_000;
        using var start = new Barrier(threads);
        var producing = Enumerable.Range(0, threads).Select(t => Task.Run(async () =>
        {
            start.SignalAndWait();
            var acks = new Task<RecordAck>[perThread];
            for (var i = 0; i < perThread; i++)
            {
                acks[i] = producer.ProduceAsync(Log, 0, Rec((byte)t));
            }

            return await Task.WhenAll(acks);
        })).ToArray();
        var acked = (await Task.WhenAll(producing)).SelectMany(a => a).ToArray();

        Assert.Equal(threads * perThread, acked.Length);
        var calls = _grains.Calls[first..];
        Assert.Equal(threads * perThread, calls.Length); // one record per batch, none sent twice
        for (var i = 1; i < calls.Length; i++)
        {
            Assert.Equal(calls[i - 1].Batch.ProducerId, calls[i].Batch.ProducerId);
            Assert.True(calls[i - 1].Batch.FirstSequence + calls[i - 1].Batch.Records.Length == calls[i].Batch.FirstSequence,
                $"call {i} carried sequence {calls[i].Batch.FirstSequence} right after sequence {calls[i - 1].Batch.FirstSequence}");
        }
    }

    /// <summary>
    /// A record that passed the closed check just before DisposeAsync began and reaches its batch only after it: the
    /// dispose waits for it and sends it at once (its linger would outlast the timers the dispose stops), and completes
    /// only once the record is answered. The fake clock never moves here.
    /// </summary>
    [Fact]
    public async Task A_record_appended_while_the_producer_is_disposed_is_sent_and_answered_before_the_dispose_completes()
    {
        var producer = await WarmedUpAsync(new ProducerOptions { Linger = TimeSpan.FromMinutes(1) });
        var held = HoldAnswers();
        Task? disposing = null;
        producer.BeforeAppend = _ =>
        {
            producer.BeforeAppend = null;
            disposing = producer.DisposeAsync().AsTask();
        };

        var record = producer.ProduceAsync(Log, Rec(1));
        Assert.NotNull(disposing);
        await Eventually.TrueAsync(() => _grains.Calls.Length == 2, "the record sent without its linger");
        Assert.False(disposing.IsCompleted, "the dispose completed before the record it had let in was answered");
        held[0].Answer.SetResult(_grains.Append(held[0].Call));
        await disposing.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(new RecordAck(0, 1, 1, Duplicate: false), await record);
        await Assert.ThrowsAsync<ObjectDisposedException>(() => producer.ProduceAsync(Log, Rec(2)));
    }

    /// <summary>
    /// A record produced before DisposeAsync that waited for its log's metadata, which arrives as the producer is being
    /// disposed: it is sent at once, and the dispose completes only once it is answered.
    /// </summary>
    [Fact]
    public async Task A_record_waiting_for_its_logs_metadata_when_the_producer_is_disposed_is_answered_before_the_dispose_completes()
    {
        var producer = new LogProducer(_grains, new ProducerOptions { Linger = TimeSpan.FromMinutes(1) }, _time);
        var metadata = new TaskCompletionSource<LogInfo?>(TaskCreationOptions.RunContinuationsAsynchronously);
        _grains.OnGetLog = _ => metadata.Task;
        var held = HoldAnswers();
        var record = producer.ProduceAsync(Log, Rec(1)); // waits in line for the metadata
        var disposing = new TaskCompletionSource<Task>(TaskCreationOptions.RunContinuationsAsynchronously);
        producer.BeforeEnqueueFromLine = _ =>
        {
            producer.BeforeEnqueueFromLine = null;
            disposing.SetResult(producer.DisposeAsync().AsTask());
        };

        metadata.SetResult(FakeGrains.Log(Log, partitions: 1));
        var disposed = await disposing.Task.WaitAsync(TimeSpan.FromSeconds(10));
        await Eventually.TrueAsync(() => _grains.Calls.Length == 1, "the record sent without its linger");
        Assert.False(disposed.IsCompleted, "the dispose completed before a record produced before it was answered");
        held[0].Answer.SetResult(_grains.Append(held[0].Call));
        await disposed.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal(new RecordAck(0, 1, 0, Duplicate: false), await record);
    }

    /// <summary>
    /// FlushAsync sends every batch now, also a batch opened for a record it waits for that was admitted only after the
    /// flush began (it waited for buffer room): that batch does not wait out its linger.
    /// </summary>
    [Fact]
    public async Task A_flush_sends_at_once_the_records_it_waits_for_that_are_admitted_after_it_began()
    {
        // The fake clock never moves here: a batch that waited for its linger would never go.
        var options = new ProducerOptions { Linger = TimeSpan.FromMinutes(1), MaxBatchBytes = 2 * RecordBytes, MaxBufferedBytes = 2 * RecordBytes };
        var producer = await WarmedUpAsync(options);
        var held = HoldAnswers();
        int[][] Sent() => [.. _grains.Calls.Skip(1).Select(c => c.Batch.Records.Select(r => (int)r.Value[0]).ToArray())];

        // 2 does not fit beside 1 (1 goes), 3 waits for room.
        var records = new[] { producer.ProduceAsync(Log, Rec(1)), producer.ProduceAsync(Log, Rec(2)), producer.ProduceAsync(Log, Rec(3)) };
        var flush = producer.FlushAsync();
        Assert.Equal([[1], [2]], Sent());

        held[0].Answer.SetResult(_grains.Append(held[0].Call)); // room for 3, admitted into a batch of its own
        await Eventually.TrueAsync(() => _grains.Calls.Length == 4, "the record admitted after the flush began sent without its linger");
        Assert.Equal([[1], [2], [3]], Sent());
        Assert.False(flush.IsCompleted);
        held[1].Answer.SetResult(_grains.Append(held[1].Call));
        held[2].Answer.SetResult(_grains.Append(held[2].Call));
        await flush.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal([1ul, 2ul, 3ul], (await Task.WhenAll(records)).Select(a => a.Offset));
        await producer.DisposeAsync();
    }

    [Theory]
    [InlineData(typeof(SiloUnavailableException))]
    [InlineData(typeof(TimeoutException))]
    [InlineData(typeof(NotLeaderException))]
    public async Task A_metadata_read_that_fails_for_a_while_is_retried_and_the_records_waiting_for_it_go_in_order(Type failure)
    {
        await using var producer = new LogProducer(_grains, new ProducerOptions { Linger = TimeSpan.Zero }, _time);
        var reads = 0;
        _grains.OnGetLog = _ => ++reads <= 3 // called under the fake's lock
            ? Task.FromException<LogInfo?>((Exception)Activator.CreateInstance(failure, "the metadata group did not answer")!)
            : Task.FromResult<LogInfo?>(FakeGrains.Log(Log, partitions: 1));

        var first = producer.ProduceAsync(Log, Rec(1));
        var second = await producer.SendAsync(Log, Rec(2)); // buffered behind the first, not failed with the read's error
        Assert.False(first.IsCompleted);
        await AdvanceUntilAsync(() => first.IsCompleted && second.IsCompleted, "the records sent once the metadata was read");
        Assert.Equal([0ul, 1ul], (await Task.WhenAll(first, second)).Select(a => a.Offset));
        Assert.Equal(4, _grains.LogReads);
    }

    [Fact]
    public async Task Records_whose_logs_metadata_cannot_be_read_fail_with_ProduceException_once_their_delivery_timeout_passed()
    {
        var options = new ProducerOptions { Linger = TimeSpan.Zero, DeliveryTimeout = TimeSpan.FromSeconds(10) };
        await using var producer = new LogProducer(_grains, options, _time);
        var unavailable = new SiloUnavailableException("the metadata leader's silo is gone");
        _grains.OnGetLog = _ => Task.FromException<LogInfo?>(unavailable);
        var started = _time.GetUtcNow();
        var keyless = producer.ProduceAsync(Log, Rec(1));
        await AdvanceUntilAsync(() => _time.GetUtcNow() - started >= TimeSpan.FromSeconds(2), "two seconds");
        var toPartition = producer.ProduceAsync(Log, 0, Rec(2));

        await AdvanceUntilAsync(() => keyless.IsCompleted, "the first record's delivery timeout");
        Assert.InRange(_time.GetUtcNow() - started, TimeSpan.FromSeconds(10), TimeSpan.FromSeconds(11)); // not before, and not long after
        Assert.False(toPartition.IsCompleted);
        var e = await Assert.ThrowsAsync<ProduceException>(() => keyless);
        Assert.Same(unavailable, e.InnerException);
        Assert.Equal((Log, -1, 1, false), (e.Log, e.Partition, e.RecordCount, e.Refused));
        Assert.Equal("1 record of log 'orders' was not acknowledged: the log's metadata could not be read within the delivery timeout (00:00:10) " +
            "(last error: the metadata leader's silo is gone)", e.Message);

        await AdvanceUntilAsync(() => toPartition.IsCompleted, "the second record's delivery timeout");
        Assert.InRange(_time.GetUtcNow() - started, TimeSpan.FromSeconds(12), TimeSpan.FromSeconds(13));
        e = await Assert.ThrowsAsync<ProduceException>(() => toPartition);
        Assert.StartsWith("1 record of log 'orders' partition 0 was not acknowledged: the log's metadata could not be read", e.Message);
        Assert.Empty(_grains.Calls);

        // Once the metadata group answers again, a new record goes (nothing of the failed ones was sent).
        _grains.OnGetLog = null;
        Assert.Equal(0ul, (await producer.ProduceAsync(Log, Rec(3)).WaitAsync(TimeSpan.FromSeconds(10))).Offset);
    }

    [Fact]
    public async Task A_metadata_read_that_fails_unexpectedly_fails_the_records_with_ProduceException_at_once()
    {
        await using var producer = new LogProducer(_grains, new ProducerOptions { Linger = TimeSpan.Zero }, _time);
        var bug = new NullReferenceException("a bug in the metadata group");
        _grains.OnGetLog = _ => Task.FromException<LogInfo?>(bug);
        var e = await Assert.ThrowsAsync<ProduceException>(() => producer.ProduceAsync(Log, Rec(1)).WaitAsync(TimeSpan.FromSeconds(10)));
        Assert.Same(bug, e.InnerException);
        Assert.Equal("1 record of log 'orders' was not acknowledged: the log's metadata could not be read (unexpected error) (last error: a bug in the metadata group)", e.Message);
        Assert.Equal(1, _grains.LogReads);
    }

    /// <summary>The producer id of the warm-up's batch (the first call): the id the partition is made to forget.</summary>
    private long WarmUpProducerId => _grains.Calls[0].Batch.ProducerId;

    private static ProducerSequenceException Unknown(FakeGrains.ProduceCall call) =>
        ProducerSequenceException.ForUnknownProducer(call.ReplicaKey, 0, call.Batch.ProducerId, call.Batch.FirstSequence);

    private static ProducerRecord Rec(byte marker)
    {
        var value = new byte[100];
        value[0] = marker;
        return new ProducerRecord(null, value);
    }

    /// <summary>A producer whose partition 0 has acknowledged record 0 (offset 0): it has its producer id and pipelines.</summary>
    private async Task<LogProducer> WarmedUpAsync(ProducerOptions options, string log = Log)
    {
        var producer = new LogProducer(_grains, options, _time);
        var warmUp = producer.ProduceAsync(log, 0, Rec(0));
        var flushed = producer.FlushAsync(); // without waiting out the linger
        await AdvanceUntilAsync(() => warmUp.IsCompleted, "the warm-up record");
        await warmUp;
        await flushed;
        return producer;
    }

    /// <summary>Moves the fake clock on in steps (50 ms unless told) until the condition holds (asynchronous continuations run between steps).</summary>
    private async Task AdvanceUntilAsync(Func<bool> condition, string what, TimeSpan? step = null)
    {
        var by = step ?? TimeSpan.FromMilliseconds(50);
        for (var moved = TimeSpan.Zero; !condition(); moved += by)
        {
            Assert.True(moved < TimeSpan.FromSeconds(100), $"{what} did not happen within 100 s of fake time");
            _time.Advance(by);
            await Task.Delay(1);
        }
    }
}
