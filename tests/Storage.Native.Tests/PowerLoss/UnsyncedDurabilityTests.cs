using System.Diagnostics;
using Pyralog.Storage.Native.CrashChild;

namespace Pyralog.Storage.Native.Tests.PowerLoss;

/// <summary>
/// <see cref="DurabilityMode.Interval"/> and <see cref="DurabilityMode.None"/> acknowledge before the WAL is synced:
/// a power loss may lose acknowledged writes, but what survives is a prefix of them, batch by batch, and the store
/// opens. A failed interval sync stops the store accepting writes, as a failed write does.
/// </summary>
public class UnsyncedDurabilityTests
{
    private const ulong Log = 1;

    [Theory]
    [InlineData(DurabilityMode.Interval, 1)]
    [InlineData(DurabilityMode.Interval, 2)]
    [InlineData(DurabilityMode.None, 1)]
    [InlineData(DurabilityMode.None, 2)]
    public async Task A_power_loss_keeps_a_prefix_of_the_acknowledged_batches(DurabilityMode mode, int seed)
    {
        using var dir = new TempDirectory();
        var device = new PowerLossDevice();
        var options = CrashWorkloadChecks.Options(device, mode);
        var random = new Random(seed);
        var batchEnds = new HashSet<ulong> { 0 };
        ulong lastAck = 0;
        for (var round = 0; round < 6; round++)
        {
            var store = PyramidStore.Open(dir.Path, options);
            var context = $"{mode} seed {seed} round {round}";
            var next = await CrashWorkloadChecks.AssertIntactAsync(store, context);
            Assert.True(next <= lastAck && batchEnds.Contains(next), $"{context}: recovered {next}, acknowledged {lastAck}, not a batch end");

            batchEnds.RemoveWhere(end => end > next); // lost batches: their offsets are written again
            lastAck = next;
            device.CutPowerAfter(random.Next(20, 600));
            using var batch = new WriteBatch(1 << 20);
            try
            {
                while (true)
                {
                    var count = random.Next(1, 64);
                    CrashWorkloadChecks.Fill(batch, next, count);
                    batchEnds.Add(next + (ulong)count); // may reach the disk although its write fails
                    await store.WriteAsync(batch);
                    lastAck = next += (ulong)count;
                }
            }
            catch (IOException)
            {
                // The power went.
            }

            lastAck = Math.Max(lastAck, batchEnds.Max());
            await PowerLossDevice.LosePowerAsync(store, device, random.Next(0, 4000));
        }
    }

    [Fact]
    public async Task A_failed_wal_sync_met_by_a_compaction_stops_writes()
    {
        using var dir = new TempDirectory();
        var device = new PowerLossDevice();
        // The interval never ends in the test: only the compaction syncs the WAL (to know which truncations are durable).
        var options = new PyramidOptions { Durability = DurabilityMode.Interval, SyncInterval = TimeSpan.FromHours(1), BackgroundWork = false, Device = device };
        var store = PyramidStore.Open(dir.Path, options);
        await store.AppendAsync(Log, 1, 0, "record-0"u8.ToArray());
        device.FailNextSync("wal-");
        var failed = Assert.Throws<IOException>(store.CompactDue); // a compaction pass, without the flush CompactAsync starts with
        Assert.Contains("injected fdatasync failure", failed.Message);

        // The kernel reports a writeback error to one fdatasync only: a store that went on would sync "successfully" next
        // and acknowledge writes over the lost ones.
        var refused = await Assert.ThrowsAsync<IOException>(async () => await store.AppendAsync(Log, 1, 1, "record-1"u8.ToArray()));
        Assert.Contains("stopped accepting writes", refused.Message);
        Assert.Contains("injected fdatasync failure", refused.Message);
        await store.DisposeAsync();
    }

    /// <summary>
    /// The kernel reports a writeback error to one fdatasync of the file only. A compaction syncs the WAL (to know which
    /// truncations are durable) on its own thread: had its sync run alongside the commit thread's and met the error, the
    /// commit thread's would have succeeded and acknowledged its group over lost pages. The two run one at a time, and a
    /// failure either met fails the other.
    /// </summary>
    [Fact]
    public async Task A_wal_sync_failure_met_beside_the_commit_threads_sync_fails_that_group_and_the_compaction()
    {
        using var dir = new TempDirectory();
        var device = new PowerLossDevice();
        var options = new PyramidOptions { BackgroundWork = false, Device = device };
        var store = PyramidStore.Open(dir.Path, options);
        await AppendUnsyncedAsync(store, Log, 0); // acknowledged unsynced: from now on a compaction syncs the WAL

        var hold = device.HoldNextSync("wal-", "pyralog-commit");
        var append = store.AppendAsync(Log, 1, 1, "synced"u8.ToArray()).AsTask();
        await hold.Reached.Task.WaitAsync(TimeSpan.FromSeconds(30));
        device.FailNextSync("wal-");
        var compaction = Task.Run(store.CompactDue);
        // Without one sync at a time the compaction's sync runs now, meets the failure and ends; with it, it waits.
        await WalTestRecords.WaitUntilAsync(() => compaction.IsCompleted || store.WalSyncWaiters > 0, "the compaction to end or to wait for the commit thread's sync");
        Assert.False(compaction.IsCompleted, "the compaction's sync ran beside the commit thread's held one");
        hold.Release();

        var failed = await Assert.ThrowsAsync<IOException>(() => append);
        Assert.Contains("injected fdatasync failure", failed.Message);
        Assert.Contains("injected fdatasync failure", (await Assert.ThrowsAsync<IOException>(() => compaction)).Message);
        await store.DisposeAsync();
    }

    /// <summary>
    /// A store stopped by a failed sync compacts nothing: a truncation acknowledged unsynced whose WAL page failed to reach
    /// the disk is lost at the next restart, and dropping the records below it would leave the log spanning records gone.
    /// </summary>
    [Fact]
    public async Task A_store_stopped_by_a_failed_sync_drops_no_segment_below_an_unsynced_truncation()
    {
        using var dir = new TempDirectory();
        var device = new PowerLossDevice();
        var options = new PyramidOptions { BackgroundWork = false, Device = device };
        var store = PyramidStore.Open(dir.Path, options);
        for (ulong offset = 0; offset < 3000; offset++)
        {
            await store.AppendAsync(Log, 1, offset, new byte[100]); // over 256 KiB: the log's own segment
        }

        await store.FlushAsync();
        var segments = Directory.GetFiles(dir.Path, "seg-*.pyr").Order().ToArray();
        using (var truncation = new WriteBatch { SkipSync = true })
        {
            truncation.TruncatePrefix(Log, 3000);
            await store.WriteAsync(truncation);
        }

        device.FailNextSync("wal-");
        await Assert.ThrowsAsync<IOException>(async () => await store.AppendAsync(2, 1, 0, "x"u8.ToArray()));
        var refused = Assert.Throws<IOException>(store.CompactDue);
        Assert.Contains("injected fdatasync failure", refused.Message);
        Assert.Equal(segments, Directory.GetFiles(dir.Path, "seg-*.pyr").Order().ToArray());
        await store.DisposeAsync();
    }

    private static async Task AppendUnsyncedAsync(PyramidStore store, ulong log, ulong offset)
    {
        using var batch = new WriteBatch { SkipSync = true };
        batch.Append(log, 1, offset, "cached"u8.ToArray());
        await store.WriteAsync(batch);
    }

    [Fact]
    public async Task A_failed_interval_sync_stops_writes_and_the_store_reopens()
    {
        using var dir = new TempDirectory();
        var device = new PowerLossDevice();
        var options = new PyramidOptions { Durability = DurabilityMode.Interval, SyncInterval = TimeSpan.FromMilliseconds(1), Device = device };
        var store = PyramidStore.Open(dir.Path, options);
        await store.AppendAsync(Log, 1, 0, "record-0"u8.ToArray());
        device.FailNextSync("wal-");
        var watch = Stopwatch.StartNew();
        IOException? refused = null;
        while (refused is null && watch.Elapsed < TimeSpan.FromSeconds(10))
        {
            try
            {
                await store.AppendAsync(Log, 1, store.GetLogBounds(Log).Next, "more"u8.ToArray());
            }
            catch (IOException e)
            {
                refused = e;
            }
        }

        Assert.NotNull(refused);
        Assert.Contains("stopped accepting writes", refused.Message);
        Assert.Contains("injected fdatasync failure", refused.Message);

        // The faulted store's commit thread sleeps: it does not retry the failed interval sync on every pass (it used to
        // spin on a zero timeout until disposed).
        var passes = store.CommitLoopPasses;
        await Task.Delay(TimeSpan.FromMilliseconds(200));
        Assert.InRange(store.CommitLoopPasses - passes, 0, 1);
        await store.DisposeAsync(); // releases the directory although a background sync failed
        await using var reopened = PyramidStore.Open(dir.Path, options);
        Assert.True(reopened.GetLogBounds(Log).Next >= 1);
    }
}
