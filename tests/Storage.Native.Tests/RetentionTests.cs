using Microsoft.Extensions.Time.Testing;

namespace Pyralog.Storage.Native.Tests;

public class RetentionTests
{
    [Fact]
    public async Task Records_older_than_the_retention_age_are_dropped_from_the_front()
    {
        using var dir = new TempDirectory();
        var clock = new FakeTimeProvider(new DateTimeOffset(2026, 1, 1, 0, 0, 0, TimeSpan.Zero));
        var options = new PyramidOptions { BackgroundWork = false, TimeProvider = clock, LogRetentionAge = TimeSpan.FromHours(1) };
        await using (var store = PyramidStore.Open(dir.Path, options))
        {
            await store.AppendAsync(Enumerable.Range(0, 100).Select(i => new LogEntry(1, (ulong)i, new byte[10])).ToArray());
            clock.Advance(TimeSpan.FromMinutes(30));
            await store.AppendAsync(Enumerable.Range(100, 100).Select(i => new LogEntry(1, (ulong)i, new byte[10])).ToArray());
            await store.ApplyRetentionAsync();
            Assert.Equal(0ul, store.FirstOffset); // nothing is an hour old yet

            clock.Advance(TimeSpan.FromMinutes(45)); // first batch is 75 min old, second 45 min
            await store.ApplyRetentionAsync();
            Assert.Equal(100ul, store.FirstOffset);
            Assert.Null(await store.ReadAsync(99));
            Assert.NotNull(await store.ReadAsync(100));
            await store.FlushAsync();
        }

        await using (var store = PyramidStore.Open(dir.Path, options))
        {
            Assert.Equal(100ul, store.FirstOffset);
            clock.Advance(TimeSpan.FromHours(2));
            await store.ApplyRetentionAsync();
            Assert.Equal(200ul, store.FirstOffset);
            Assert.Equal(200ul, store.NextOffset);
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
            LogRetentionBytes = 20_000,
            MemtableBytes = 64 << 10,
        };
        await using var store = PyramidStore.Open(dir.Path, options);
        for (var batch = 0; batch < 100; batch++)
        {
            await store.AppendAsync(Enumerable.Range(batch * 10, 10).Select(i => new LogEntry(1, (ulong)i, new byte[100])).ToArray());
        }

        await store.ApplyRetentionAsync();
        var kept = (long)(store.NextOffset - store.FirstOffset) * 100;
        Assert.InRange(kept, 20_000 - 4096 - 1000, 20_000);
        await store.CompactAsync();
        Assert.Equal((long)(store.NextOffset - store.FirstOffset), store.GetStatistics().Levels.Sum(l => l.LogRecords));
    }
}
