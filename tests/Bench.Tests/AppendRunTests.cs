using Microsoft.Extensions.Time.Testing;
using Pyralog.Bench.Harness;
using Pyralog.Bench.Storage;

namespace Pyralog.Bench.Tests;

public sealed class AppendRunTests : IDisposable
{
    private static readonly byte[][] Payloads = [.. Enumerable.Range(0, 10).Select(_ => new byte[100])];
    private readonly TempDirectory _directory = new();

    public void Dispose() => _directory.Dispose();

    [Fact]
    public async Task APacedRunIssuesAndTimesEveryBatchScheduledInTheWindowAlsoTheBacklogOfAStallAcrossItsEnd()
    {
        var time = new FakeTimeProvider();

        // 500 batches/s over 20 ms: ten batches scheduled 2 ms apart; each takes 2 ms but the fourth (scheduled at 6 ms)
        // 20 ms, so it ends at 26 ms, past the window, with six batches behind it.
        var target = new FakeStorageTarget(time, i => TimeSpan.FromMilliseconds(i == 3 ? 20 : 2));
        var latencies = new LatencyRecorder(100);

        var (records, seconds) = await AppendRun.RunAsync(target, Payloads, 10, TimeSpan.FromMilliseconds(20), latencies, time, batchesPerSecond: 500);

        Assert.Equal(10, target.Appends);
        Assert.Equal(100, records);
        Assert.Equal(0.038, seconds); // the last batch, scheduled at 18 ms, ends at 38 ms
        Assert.Equal(10, latencies.Count);
        Assert.Equal(2_000, latencies.PercentileMicros(30)); // the three batches before the stall
        Assert.Equal(20_000, latencies.PercentileMicros(40)); // the stalled one and each behind it, from its scheduled start
        Assert.Equal(20_000, latencies.PercentileMicros(100));
    }

    [Fact]
    public async Task AClosedRunAppendsUntilTheBudgetHasPassedCountingTheAppendThatCrossesIt()
    {
        var time = new FakeTimeProvider();
        var target = new FakeStorageTarget(time, _ => TimeSpan.FromMilliseconds(3));
        var latencies = new LatencyRecorder(100);

        var (records, seconds) = await AppendRun.RunAsync(target, Payloads, 10, TimeSpan.FromMilliseconds(10), latencies, time);

        Assert.Equal(4, target.Appends);
        Assert.Equal(40, records);
        Assert.Equal(0.012, seconds);
        Assert.Equal(4, latencies.Count);
        Assert.Equal(3_000, latencies.PercentileMicros(100));
    }

    [Fact]
    public async Task TheWarmUpAppendsForOneSecondOnAThrowawayStoreThenClosesItAndDeletesItsDirectory()
    {
        var time = new FakeTimeProvider();
        var directory = Path.Combine(_directory.Path, "warm-up");
        FakeStorageTarget? created = null;

        await AppendRun.WarmUpAsync(
            d =>
            {
                Directory.CreateDirectory(d);
                Assert.Null(created);
                return created = new FakeStorageTarget(time, _ => TimeSpan.FromMilliseconds(100));
            },
            directory, Payloads, 10, time);

        Assert.Equal(TimeSpan.FromSeconds(1), AppendRun.WarmUp);
        Assert.Equal(10, created!.Appends);
        Assert.True(created.Disposed);
        Assert.False(Directory.Exists(directory));
    }
}
