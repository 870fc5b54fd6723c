using Microsoft.Extensions.Time.Testing;
using Pyralog.Storage.Native.Log;

namespace Pyralog.Storage.Native.Tests.PowerLoss;

/// <summary>A flush's segment fdatasync runs on the commit thread between two groups (so no WAL sync overlaps it) while
/// commits sync the WAL; inline where the commit thread is waiting for that flush or commits do not sync (it would only
/// hold them back); its failure fails the flush as before.</summary>
public class SegmentSyncTests
{
    private const string CommitThread = "pyralog-commit";

    [Fact]
    public async Task A_flush_syncs_its_segments_on_the_commit_thread()
    {
        using var dir = new TempDirectory();
        var device = new PowerLossDevice();
        var clock = new FakeTimeProvider(); // stands still: the appends' syncs are as recent as can be when the flush syncs
        await using var store = PyramidStore.Open(dir.Path, new PyramidOptions { Device = device, TimeProvider = clock });
        for (ulong i = 0; i < 100; i++)
        {
            await store.AppendAsync(1, 1, i, new byte[1000]);
        }

        await store.FlushAsync();

        var segmentSyncs = SegmentSyncs(device);
        Assert.NotEmpty(segmentSyncs);
        Assert.All(segmentSyncs, s => Assert.Equal(CommitThread, s.Thread));
        Assert.Equal(100ul, store.GetLogBounds(1).Next);
        Assert.Equal(1000, (await store.ReadAsync(1, 99))!.Payload.Length);
    }

    [Fact]
    public async Task A_flush_syncs_its_segments_itself_while_commits_do_not_sync_the_wal()
    {
        using var dir = new TempDirectory();
        var device = new PowerLossDevice();
        var clock = new FakeTimeProvider();
        await using var store = PyramidStore.Open(dir.Path, new PyramidOptions { Device = device, TimeProvider = clock });
        for (ulong i = 0; i < 100; i++)
        {
            using var batch = new WriteBatch { SkipSync = true }; // a log acknowledged from the page cache
            batch.Append(1, 1, i, new byte[1000]);
            await store.WriteAsync(batch);
        }

        await store.FlushAsync();

        var segmentSyncs = SegmentSyncs(device);
        Assert.NotEmpty(segmentSyncs);
        Assert.All(segmentSyncs, s => Assert.NotEqual(CommitThread, s.Thread));
        Assert.Equal(100ul, store.GetLogBounds(1).Next);
    }

    [Fact]
    public async Task A_flush_syncs_its_segments_itself_once_the_last_wal_sync_is_older_than_the_window()
    {
        using var dir = new TempDirectory();
        var device = new PowerLossDevice();
        var clock = new FakeTimeProvider();
        await using var store = PyramidStore.Open(dir.Path, new PyramidOptions { Device = device, TimeProvider = clock });
        for (ulong i = 0; i < 100; i++)
        {
            await store.AppendAsync(1, 1, i, new byte[1000]);
        }

        clock.Advance(TimeSpan.FromMilliseconds(200)); // the window the commit thread counts as syncing, and no more
        await store.FlushAsync();

        var segmentSyncs = SegmentSyncs(device);
        Assert.NotEmpty(segmentSyncs);
        Assert.All(segmentSyncs, s => Assert.NotEqual(CommitThread, s.Thread));
    }

    private static List<(string File, string? Thread)> SegmentSyncs(PowerLossDevice device) =>
        device.Syncs.Where(s => s.File.StartsWith("seg-", StringComparison.Ordinal)).ToList();

    [Fact]
    public async Task A_flushed_segment_leaves_the_page_cache_only_once_synced_and_reads_back_after_a_power_loss()
    {
        using var dir = new TempDirectory();
        var device = new PowerLossDevice();
        var options = new PyramidOptions { Device = device };
        var payload = new byte[1000];
        new Random(7).NextBytes(payload);
        var store = PyramidStore.Open(dir.Path, options);
        for (ulong i = 0; i < 3000; i++)
        {
            await store.AppendAsync(1, 1, i, payload);
        }

        await store.FlushAsync();

        var segments = device.Syncs.Where(s => s.File.StartsWith("seg-", StringComparison.Ordinal)).Select(s => s.File).ToHashSet();
        var drops = device.Drops;
        Assert.NotEmpty(drops); // the log's segment
        Assert.All(drops, d => Assert.Contains(d.File, segments));
        Assert.All(drops, d => Assert.True(d.Synced, $"{d.File} was dropped from the page cache before it was synced"));
        await PowerLossDevice.LosePowerAsync(store, device);
        await using var reopened = PyramidStore.Open(dir.Path, options);
        Assert.Equal(new LogBounds(0, 3000), reopened.GetLogBounds(1));
        for (ulong i = 0; i < 3000; i += 499)
        {
            Assert.Equal(payload, (await reopened.ReadAsync(1, i))!.Payload.ToArray());
        }
    }

    [Fact]
    public async Task Writers_that_wait_for_a_flush_to_make_room_go_on_and_lose_nothing()
    {
        using var dir = new TempDirectory();
        var device = new PowerLossDevice();
        var options = new PyramidOptions { Device = device, MemtableBytes = 64 << 10, MaxImmutableMemtables = 1 };
        await using (var store = PyramidStore.Open(dir.Path, options))
        {
            // Eight writers fill a 64 KiB memtable over and over: the commit thread keeps waiting for a flush to make
            // room while that flush hands its segment sync over.
            var writers = Enumerable.Range(0, 8).Select(async w =>
            {
                for (ulong i = 0; i < 100; i++)
                {
                    await store.AppendAsync((ulong)w + 1, 1, i, new byte[1000]);
                }
            });
            await Task.WhenAll(writers).WaitAsync(TimeSpan.FromMinutes(1));
            Assert.True(store.GetStatistics().Flushes >= 5, $"only {store.GetStatistics().Flushes} flushes");
        }

        await using var reopened = PyramidStore.Open(dir.Path, options);
        for (ulong log = 1; log <= 8; log++)
        {
            Assert.Equal(new LogBounds(0, 100), reopened.GetLogBounds(log));
            Assert.Equal(1000, (await reopened.ReadAsync(log, 99))!.Payload.Length);
        }
    }

    [Fact]
    public async Task A_segment_sync_that_fails_stops_the_store_and_loses_nothing_acknowledged()
    {
        using var dir = new TempDirectory();
        var device = new PowerLossDevice();
        var options = new PyramidOptions { Device = device, MemtableBytes = 64 << 10 };
        var store = PyramidStore.Open(dir.Path, options);
        device.FailNextSync("seg-");

        // Appends fill memtables until the flush worker's segment sync fails and the store stops taking writes.
        ulong acknowledged = 0;
        IOException? stopped = null;
        while (stopped is null)
        {
            Assert.True(acknowledged < 10_000, "the store never stopped after its segment sync failed");
            try
            {
                await store.AppendAsync(1, 1, acknowledged, new byte[1000]);
                acknowledged++;
            }
            catch (IOException e)
            {
                stopped = e;
            }
        }

        Assert.Contains("injected fdatasync failure", stopped.Message);
        await store.DisposeAsync();

        await using var reopened = PyramidStore.Open(dir.Path, options);
        Assert.Equal(new LogBounds(0, acknowledged), reopened.GetLogBounds(1));
        Assert.Equal(1000, (await reopened.ReadAsync(1, acknowledged - 1))!.Payload.Length);
    }
}
