using Microsoft.Extensions.Time.Testing;
using Pyralog.Storage.Native.Log;

namespace Pyralog.Storage.Native.Tests;

public class RetentionTests
{
    private const ulong Log = 1;

    [Fact]
    public async Task Records_older_than_the_retention_age_are_dropped_from_the_front()
    {
        using var dir = new TempDirectory();
        var clock = new FakeTimeProvider(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));
        var options = new PyramidOptions { BackgroundWork = false, TimeProvider = clock };
        await using (var store = PyramidStore.Open(dir.Path, options))
        {
            store.SetRetention(Log, TimeSpan.FromHours(1), null);
            await store.AppendAsync(Log, Enumerable.Range(0, 100).Select(i => new AppendRecord(1, (ulong)i, new byte[10])).ToArray());
            clock.Advance(TimeSpan.FromMinutes(30));
            await store.AppendAsync(Log, Enumerable.Range(100, 100).Select(i => new AppendRecord(1, (ulong)i, new byte[10])).ToArray());
            await store.ApplyRetentionAsync();
            Assert.Equal(0ul, store.GetLogBounds(Log).First); // nothing is an hour old yet

            clock.Advance(TimeSpan.FromMinutes(45)); // first batch is 75 min old, second 45 min
            await store.ApplyRetentionAsync();
            Assert.Equal(100ul, store.GetLogBounds(Log).First);
            Assert.Null(await store.ReadAsync(Log, 99));
            Assert.NotNull(await store.ReadAsync(Log, 100));
            await store.FlushAsync();
        }

        await using (var store = PyramidStore.Open(dir.Path, options))
        {
            Assert.Equal(100ul, store.GetLogBounds(Log).First);
            await store.ApplyRetentionAsync();
            Assert.Equal(100ul, store.GetLogBounds(Log).First); // retention is the owner's to set after each open
            store.SetRetention(Log, TimeSpan.FromHours(1), null);
            clock.Advance(TimeSpan.FromHours(2));
            await store.ApplyRetentionAsync();
            Assert.Equal(200ul, store.GetLogBounds(Log).First);
            Assert.Equal(200ul, store.GetLogBounds(Log).Next);
        }
    }

    [Fact]
    public async Task The_log_is_kept_under_the_retention_size_to_marker_granularity()
    {
        using var dir = new TempDirectory();
        var clock = new FakeTimeProvider(DateTimeOffset.UnixEpoch);
        var options = new PyramidOptions
        {
            BackgroundWork = false,
            TimeProvider = clock,
            RetentionMarkerBytes = 4096,
            MemtableBytes = 64 << 10,
        };
        await using var store = PyramidStore.Open(dir.Path, options);
        store.SetRetention(Log, null, 20_000);
        for (var batch = 0; batch < 100; batch++)
        {
            await store.AppendAsync(Log, Enumerable.Range(batch * 10, 10).Select(i => new AppendRecord(1, (ulong)i, new byte[100])).ToArray());
        }

        await store.ApplyRetentionAsync();
        var kept = (long)(store.GetLogBounds(Log).Next - store.GetLogBounds(Log).First) * 100;
        Assert.InRange(kept, 20_000 - 4096 - 1000, 20_000);
        await store.CompactAsync();
        Assert.Equal((long)(store.GetLogBounds(Log).Next - store.GetLogBounds(Log).First), store.GetStatistics().Levels.Sum(l => l.LogRecords));
    }

    [Fact]
    public async Task Retention_of_one_log_leaves_the_other_logs_alone()
    {
        const ulong raftLog = 2;
        using var dir = new TempDirectory();
        var clock = new FakeTimeProvider(DateTimeOffset.UnixEpoch);
        await using var store = PyramidStore.Open(dir.Path, new PyramidOptions { BackgroundWork = false, TimeProvider = clock });
        store.SetRetention(Log, TimeSpan.FromMinutes(1), null);
        await store.AppendAsync(Log, Enumerable.Range(0, 50).Select(i => new AppendRecord(1, (ulong)i, new byte[10])).ToArray());
        await store.AppendAsync(raftLog, Enumerable.Range(0, 50).Select(i => new AppendRecord(1, (ulong)i, new byte[10])).ToArray());
        clock.Advance(TimeSpan.FromHours(1));
        await store.ApplyRetentionAsync();
        Assert.Equal(new LogBounds(50, 50), store.GetLogBounds(Log));
        Assert.Equal(new LogBounds(0, 50), store.GetLogBounds(raftLog));
        Assert.Throws<ArgumentOutOfRangeException>(() => store.SetRetention(Log, TimeSpan.Zero, null));
        Assert.Throws<ArgumentOutOfRangeException>(() => store.SetRetention(Log, null, -1));
    }
}
