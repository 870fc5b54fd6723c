using System.Text;
using Pyralog.Storage.Native.Log;

namespace Pyralog.Storage.Native.Tests.PowerLoss;

/// <summary>
/// <see cref="WriteBatch.SkipSync"/> (a log with os-cache durability inside a PerBatch store): acknowledged once in the
/// page cache, so a process crash keeps it and a power loss may not; a synced batch after it makes it durable too; and
/// a failed sync of a later batch never undoes what was acknowledged.
/// </summary>
public class SkipSyncTests
{
    private const ulong Log = 1;

    [Fact]
    public async Task A_skip_sync_batch_is_acknowledged_without_an_fdatasync_and_kept_by_a_reopen()
    {
        using var dir = new TempDirectory();
        var options = new PyramidOptions { BackgroundWork = false };
        var store = PyramidStore.Open(dir.Path, options);
        var syncsBefore = store.GetStatistics().WalSyncs;
        await AppendUnsyncedAsync(store, 0, "cached");

        Assert.Equal(syncsBefore, store.GetStatistics().WalSyncs);
        Assert.Equal(1ul, store.GetLogBounds(Log).Next);
        await store.DisposeAsync();

        await using var reopened = PyramidStore.Open(dir.Path, options);
        Assert.Equal("cached", Encoding.UTF8.GetString((await reopened.ReadAsync(Log, 0))!.Payload));
    }

    [Fact]
    public async Task A_power_loss_may_lose_a_skip_sync_batch_but_not_one_synced_after_it()
    {
        using var dir = new TempDirectory();
        var device = new PowerLossDevice();
        var options = new PyramidOptions { BackgroundWork = false, Device = device };
        var store = PyramidStore.Open(dir.Path, options);
        await AppendUnsyncedAsync(store, 0, "cached");

        await PowerLossDevice.LosePowerAsync(store, device);
        await using (var afterLoss = PyramidStore.Open(dir.Path, options))
        {
            Assert.Equal(0ul, afterLoss.GetLogBounds(Log).Count);
            await AppendUnsyncedAsync(afterLoss, 0, "cached");
            await afterLoss.AppendAsync(Log, 1, 1, "synced"u8.ToArray()); // its fdatasync covers the cached frame too
            await PowerLossDevice.LosePowerAsync(afterLoss, device);
        }

        await using var reopened = PyramidStore.Open(dir.Path, options);
        Assert.Equal(new LogBounds(0, 2), reopened.GetLogBounds(Log));
        Assert.Equal("cached", Encoding.UTF8.GetString((await reopened.ReadAsync(Log, 0))!.Payload));
        Assert.Equal("synced", Encoding.UTF8.GetString((await reopened.ReadAsync(Log, 1))!.Payload));
    }

    [Fact]
    public async Task A_failed_sync_undoes_only_the_failed_batch_not_an_acknowledged_skip_sync_one()
    {
        using var dir = new TempDirectory();
        var device = new PowerLossDevice();
        var options = new PyramidOptions { BackgroundWork = false, Device = device };
        var store = PyramidStore.Open(dir.Path, options);
        await AppendUnsyncedAsync(store, 0, "cached");

        device.FailNextSync("wal-");
        await Assert.ThrowsAsync<IOException>(async () => await store.AppendAsync(Log, 1, 1, "failed"u8.ToArray()));
        await store.DisposeAsync();

        await using var reopened = PyramidStore.Open(dir.Path, options);
        Assert.Equal(new LogBounds(0, 1), reopened.GetLogBounds(Log));
        Assert.Equal("cached", Encoding.UTF8.GetString((await reopened.ReadAsync(Log, 0))!.Payload));
    }

    private static async Task AppendUnsyncedAsync(PyramidStore store, ulong offset, string value)
    {
        using var batch = new WriteBatch { SkipSync = true };
        batch.Append(Log, 1, offset, Encoding.UTF8.GetBytes(value));
        await store.WriteAsync(batch);
    }
}
