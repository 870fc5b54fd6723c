using Microsoft.Extensions.Time.Testing;
using Pyralog.Client.Logs;
using Pyralog.Grains.Interfaces.Logs;

namespace Pyralog.Client.Tests.Logs;

/// <summary>
/// A long-running client keeps state only for the logs it uses: a log found deleted, or not looked up for
/// <see cref="CachedLogs.ForgetAfter"/>, leaves the cache with its replica references, and the producers sharing the
/// cache drop their state for it once its partitions have nothing unfinished.
/// </summary>
public sealed class ForgottenLogsTests
{
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 12, 6, 12, 0, 0, TimeSpan.Zero));
    private readonly FakeGrains _grains = new(FakeGrains.Log("old", 1, id: 7), FakeGrains.Log("busy", 1, id: 8));

    [Fact]
    public async Task A_log_nobody_looks_up_for_ForgetAfter_is_forgotten_at_the_next_refresh_of_another()
    {
        var logs = new CachedLogs(_grains, _time);
        var forgotten = 0;
        logs.Forgotten += () => forgotten++;
        await logs.GetAsync("old", CancellationToken.None);
        await logs.GetAsync("busy", CancellationToken.None);
        var reference = logs.Replica("7/0/0");

        var steps = (int)(CachedLogs.ForgetAfter / CachedLogs.RefreshInterval);
        for (var step = 1; step <= steps; step++)
        {
            var reads = _grains.LogReads;
            _time.Advance(CachedLogs.RefreshInterval);
            Assert.True(logs.TryGet("busy", out _)); // used, and refreshed in the background
            await Eventually.TrueAsync(() => _grains.LogReads == reads + 1 && logs.TryGet("busy", out var busy) && busy.FetchedAt == _time.GetTimestamp(), $"refresh {step} of 'busy'");
            if (step < steps)
            {
                Assert.True(logs.Holds("old", 7), $"'old' forgotten after {step} refreshes, before ForgetAfter");
                Assert.Same(reference, logs.Replica("7/0/0"));
            }
        }

        await Eventually.TrueAsync(() => forgotten == 1, "the forgotten event");
        Assert.False(logs.Holds("old", 7));
        Assert.True(logs.Holds("busy", 8));
        Assert.NotSame(reference, logs.Replica("7/0/0")); // made anew: the old one was dropped with the log
        Assert.Equal(7ul, (await logs.GetAsync("old", CancellationToken.None)).Info.Id); // still there in the cluster: read again
    }

    [Fact]
    public async Task A_deleted_log_and_one_created_again_under_its_name_forget_the_old_id()
    {
        var logs = new CachedLogs(_grains, _time);
        var forgotten = 0;
        logs.Forgotten += () => forgotten++;
        await logs.GetAsync("old", CancellationToken.None);
        var reference = logs.Replica("7/0/0");

        _grains.Put(FakeGrains.Log("old", 1, id: 17)); // deleted and created again
        Assert.Equal(17ul, (await logs.FetchAsync("old"))!.Info.Id);
        Assert.Equal(1, forgotten);
        Assert.NotSame(reference, logs.Replica("7/0/0"));

        _grains.Delete("old");
        Assert.Null(await logs.FetchAsync("old"));
        Assert.Equal(2, forgotten);
        Assert.False(logs.Holds("old", 17));
    }

    [Fact]
    public async Task A_producer_drops_a_deleted_logs_state_once_its_partitions_are_idle()
    {
        var logs = new CachedLogs(_grains, _time);
        await using var producer = new LogProducer(logs, new ProducerOptions { Linger = TimeSpan.Zero });
        await producer.ProduceAsync("old", Rec(1));
        await producer.ProduceAsync("busy", Rec(2));
        Assert.Equal(2, producer.LogsKept);

        // A batch of "busy" waits for its answer while the log is deleted: its state stays until the batch settles.
        var answer = new TaskCompletionSource<AppendAck>(TaskCreationOptions.RunContinuationsAsynchronously);
        _grains.OnProduce = call => ReplicaGrainKey.Parse(call.ReplicaKey).Log == 8 ? answer.Task : Task.FromResult(_grains.Append(call));
        var pending = producer.ProduceAsync("busy", Rec(3));
        _grains.Delete("busy");
        Assert.Null(await logs.FetchAsync("busy"));
        Assert.Equal(2, producer.LogsKept);

        _grains.Delete("old");
        Assert.Null(await logs.FetchAsync("old"));
        Assert.Equal(1, producer.LogsKept); // "old" had nothing unfinished

        answer.SetResult(new AppendAck(1, 1, 1));
        Assert.Equal(1ul, (await pending).Offset);
        _grains.Put(FakeGrains.Log("other", 1, id: 9));
        await logs.GetAsync("other", CancellationToken.None);
        _grains.Delete("other");
        Assert.Null(await logs.FetchAsync("other")); // the next forgetting drops "busy" too, now idle
        Assert.Equal(0, producer.LogsKept);

        await Assert.ThrowsAsync<InvalidOperationException>(() => producer.ProduceAsync("old", Rec(4)));

        // Back under its id (as a log forgotten for disuse is): its partition remembers the producer's first batch, so
        // the state made afresh must not start the same producer id at sequence 0 again.
        _grains.Put(FakeGrains.Log("old", 1, id: 7));
        var again = await producer.ProduceAsync("old", Rec(5));
        Assert.False(again.Duplicate);
        var batches = _grains.Calls.Where(c => ReplicaGrainKey.Parse(c.ReplicaKey).Log == 7).Select(c => c.Batch).ToList();
        Assert.Equal(2, batches.Count);
        Assert.NotEqual(batches[0].ProducerId, batches[1].ProducerId);
        Assert.Equal(1, producer.LogsKept);
    }

    [Fact]
    public async Task A_producer_dropped_without_being_disposed_is_not_kept_alive_by_the_shared_cache()
    {
        var logs = new CachedLogs(_grains, _time);
        var dropped = await ProduceAndDropAsync(logs);
        for (var i = 0; i < 3 && IsAlive(dropped); i++)
        {
            GC.Collect();
            GC.WaitForPendingFinalizers();
        }

        Assert.False(IsAlive(dropped));
        _grains.Delete("old");
        Assert.Null(await logs.FetchAsync("old")); // the forgetting finds it gone and lets go of its subscription
    }

    // Apart, so no local of the test's frame holds the producer while it is collected.
    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)]
    private static bool IsAlive(WeakReference<LogProducer> producer) => producer.TryGetTarget(out _);

    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)]
    private static async Task<WeakReference<LogProducer>> ProduceAndDropAsync(CachedLogs logs)
    {
        var producer = new LogProducer(logs, new ProducerOptions { Linger = TimeSpan.Zero });
        await producer.ProduceAsync("old", Rec(1));
        return new WeakReference<LogProducer>(producer);
    }

    private static ProducerRecord Rec(byte value) => new(null, [value]);
}
