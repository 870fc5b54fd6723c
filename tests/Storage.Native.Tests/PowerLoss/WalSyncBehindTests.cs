using Pyralog.Storage.Native.Log;
using static Pyralog.Storage.Native.Tests.PowerLoss.WalTestRecords;

namespace Pyralog.Storage.Native.Tests.PowerLoss;

/// <summary>
/// Frames acknowledged without a sync (<see cref="WriteBatch.SkipSync"/>) are synced behind the writer by a pool thread
/// every <see cref="Wal.WriteAheadLog.SyncBehindBytes"/>, so the sync that completes the file at a memtable swap finds
/// little left; a failed background sync stops the store at the next sync and loses nothing acknowledged.
/// </summary>
public class WalSyncBehindTests
{
    private const ulong Log = 1;
    private const string StoreThreads = "pyralog-";

    [Fact]
    public async Task Unsynced_frames_are_synced_behind_the_writer_off_the_commit_thread_and_survive_a_power_loss()
    {
        using var dir = new TempDirectory();
        var device = new PowerLossDevice();
        var options = Options(device);
        var store = await OpenWithSpareAsync(dir.Path, options, device);
        var before = WalSyncsOffTheCommitThread(device); // the first file's, made by the open

        // 64 records of 256 KiB: about 15 fill the first file (4 MiB, completed and synced as the group after them moves
        // on to the spare), and 32 more cross the 8 MiB after which the spare is synced behind the writer.
        const ulong written = 64;
        for (ulong i = 0; i < written; i++)
        {
            await AppendUnsyncedAsync(store, i);
        }

        await WaitUntilAsync(() => WalSyncsOffTheCommitThread(device) > before, "a WAL sync behind the writer");

        await PowerLossDevice.LosePowerAsync(store, device);
        await using var reopened = PyramidStore.Open(dir.Path, options);
        var kept = reopened.GetLogBounds(Log).Next;
        Assert.InRange(kept, 15ul + 32ul, written); // without the sync behind only the first file's ~15 would be durable
        for (ulong i = 0; i < kept; i++)
        {
            Assert.Equal(Payload(i), (await reopened.ReadAsync(Log, i))!.Payload.ToArray());
        }
    }

    [Fact]
    public async Task Frames_that_are_synced_with_their_group_start_no_sync_behind()
    {
        using var dir = new TempDirectory();
        var device = new PowerLossDevice();
        await using var store = PyramidStore.Open(dir.Path, new PyramidOptions { Device = device });
        var before = WalSyncsOffTheCommitThread(device);
        for (ulong i = 0; i < 64; i++)
        {
            await store.AppendAsync(Log, 1, i, Payload(i));
        }

        Assert.Equal(before, WalSyncsOffTheCommitThread(device));
    }

    [Fact]
    public async Task A_failed_sync_behind_stops_the_store_at_the_next_sync_and_loses_nothing_acknowledged()
    {
        using var dir = new TempDirectory();
        var device = new PowerLossDevice();
        var options = Options(device);
        var store = await OpenWithSpareAsync(dir.Path, options, device);
        ulong acknowledged = 0;
        for (; acknowledged < 20; acknowledged++)
        {
            await AppendUnsyncedAsync(store, acknowledged); // past the first file: the next WAL sync is the spare's, behind
        }

        device.FailNextSync("wal-");
        for (; acknowledged < 56; acknowledged++)
        {
            await AppendUnsyncedAsync(store, acknowledged);
        }

        // The sync behind started with the group that crossed 8 MiB, before its writer was answered, and failed; the unsynced
        // appends after it went on. The synced append syncs, then finds that failure and is refused with it (the kernel
        // would report that writeback error to one sync only), and the store stops.
        var refused = await Assert.ThrowsAsync<IOException>(() => store.AppendAsync(Log, 1, acknowledged, Payload(acknowledged)).AsTask());
        Assert.Contains("could not be synced in the background", refused.Message);
        Assert.Contains("injected fdatasync failure", refused.Message);
        await Assert.ThrowsAnyAsync<IOException>(() => AppendUnsyncedAsync(store, acknowledged));
        await store.DisposeAsync();

        await using var reopened = PyramidStore.Open(dir.Path, options);
        Assert.Equal(new LogBounds(0, acknowledged), reopened.GetLogBounds(Log));
        Assert.Equal(Payload(acknowledged - 1), (await reopened.ReadAsync(Log, acknowledged - 1))!.Payload.ToArray());
    }

    // WAL syncs on a thread of their own: not the commit thread's, nor a store worker's (a compaction syncs the WAL of a store
    // that acknowledged unsynced frames before it deletes anything).
    private static int WalSyncsOffTheCommitThread(PowerLossDevice device) =>
        device.Syncs.Count(s => s.File.StartsWith("wal-", StringComparison.Ordinal) && s.Thread?.StartsWith(StoreThreads, StringComparison.Ordinal) != true);

    // No retention pass during a test: a compaction's WAL sync would take an injected failure or do the sync behind's work.
    private static PyramidOptions Options(PowerLossDevice device) => new() { Device = device, RetentionCheckInterval = TimeSpan.FromHours(1) };

    /// <summary>Opens the store and waits until its spare WAL is ready, so a full first file moves on to it.</summary>
    private static async Task<PyramidStore> OpenWithSpareAsync(string path, PyramidOptions options, PowerLossDevice device)
    {
        var store = PyramidStore.Open(path, options);
        await WaitUntilAsync(() => device.Syncs.Any(s => s.File.StartsWith("spare-wal-", StringComparison.Ordinal)), "the spare WAL is ready");
        return store;
    }

    private static async Task AppendUnsyncedAsync(PyramidStore store, ulong offset)
    {
        using var batch = new WriteBatch { SkipSync = true };
        batch.Append(Log, 1, offset, Payload(offset));
        await store.WriteAsync(batch);
    }
}
