using Pyralog.Storage.Native.Log;
using static Pyralog.Storage.Native.Tests.PowerLoss.WalTestRecords;

namespace Pyralog.Storage.Native.Tests.PowerLoss;

/// <summary>A store opens in a full-size spare with the next one ready. One whose open could not write its spare (the file
/// system refused) starts in a 4 MiB file: once a spare is ready, the group that would grow the file moves on to it instead
/// (no zero-fill on the commit path), without swapping the memtable, and loses nothing to a crash.</summary>
public class WalSpareRotationTests
{

    [Fact]
    public async Task A_store_opens_in_a_synced_full_size_spare_with_the_next_spare_ready_and_its_first_memtable_never_grows_the_file()
    {
        using var dir = new TempDirectory();
        var device = new PowerLossDevice();
        var options = new PyramidOptions { Device = device, MemtableBytes = 8 << 20 };
        var store = PyramidStore.Open(dir.Path, options);
        var spareBytes = options.MemtableBytes + (4 << 20);

        // Both made before the open returned: zero-filled and synced, so no write shares the disk with them.
        var wal = Assert.Single(Directory.GetFiles(dir.Path, "wal-*.log"));
        var spare = Assert.Single(Directory.GetFiles(dir.Path, "spare-wal-*"));
        Assert.Equal(spareBytes, new FileInfo(wal).Length);
        Assert.Equal(spareBytes, new FileInfo(spare).Length);
        Assert.Equal(2, device.Syncs.Count(s => s.File.StartsWith("spare-wal-", StringComparison.Ordinal)));

        // 6 MiB of records, below the 8 MiB memtable: one file, never grown, nothing flushed.
        ulong written = 0;
        for (; written < 24; written++)
        {
            await store.AppendAsync(1, 1, written, Payload(written));
        }

        Assert.Equal(wal, Assert.Single(Directory.GetFiles(dir.Path, "wal-*.log")));
        Assert.Equal(spareBytes, new FileInfo(wal).Length);
        Assert.Equal(0, store.GetStatistics().Flushes);

        await AssertAllPresentAfterPowerLossAsync(store, device, dir.Path, options, written);
    }

    [Fact]
    public async Task A_group_that_would_grow_the_first_wal_moves_on_to_the_spare_and_a_power_loss_after_it_loses_nothing()
    {
        using var dir = new TempDirectory();
        var device = new PowerLossDevice();
        var options = new PyramidOptions { Device = device };
        device.FailNextWrite("spare-wal-"); // the open's spare: the store starts in a small file and prepares one in the background
        var store = PyramidStore.Open(dir.Path, options);
        await WaitUntilAsync(() => device.Syncs.Any(s => s.File.StartsWith("spare-wal-", StringComparison.Ordinal)), "the spare WAL is ready");

        // 24 records of 256 KiB: 6 MiB, past the first file's 4 MiB, far below a 64 MiB memtable.
        ulong written = 0;
        for (; written < 24; written++)
        {
            await store.AppendAsync(1, 1, written, Payload(written));
        }

        var wals = Directory.GetFiles(dir.Path, "wal-*.log").Order().ToList();
        Assert.Equal(2, wals.Count);
        Assert.True(new FileInfo(wals[0]).Length <= WriteAheadLogBytes, $"the first WAL grew to {new FileInfo(wals[0]).Length} bytes");
        Assert.Equal(0, store.GetStatistics().Flushes); // no memtable swap: only the file changed

        await AssertAllPresentAfterPowerLossAsync(store, device, dir.Path, options, written);
    }

    /// <summary>Cuts the power under <paramref name="store"/>, reopens, and finds every record appended (all acknowledged)
    /// and no torn tail.</summary>
    private static async Task AssertAllPresentAfterPowerLossAsync(PyramidStore store, PowerLossDevice device, string directory, PyramidOptions options, ulong written)
    {
        await PowerLossDevice.LosePowerAsync(store, device);
        await using var reopened = PyramidStore.Open(directory, options);
        Assert.Equal(new LogBounds(0, written), reopened.GetLogBounds(1));
        for (ulong i = 0; i < written; i++)
        {
            Assert.Equal(Payload(i), (await reopened.ReadAsync(1, i))!.Payload.ToArray());
        }

        Assert.Equal(0, reopened.Recovery.DroppedBytes);
    }

    // The first file's preallocation (4 MiB) and its header.
    private const long WriteAheadLogBytes = (4 << 20) + Wal.WriteAheadLog.HeaderBytes;
}
