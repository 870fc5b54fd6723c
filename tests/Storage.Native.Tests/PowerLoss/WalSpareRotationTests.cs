using Pyralog.Storage.Native.Log;
using static Pyralog.Storage.Native.Tests.PowerLoss.WalTestRecords;

namespace Pyralog.Storage.Native.Tests.PowerLoss;

/// <summary>A new store's first WAL file holds 4 MiB: once the spare is ready, the group that would grow the file moves on
/// to the spare instead (no zero-fill on the commit path), without swapping the memtable, and loses nothing to a crash.</summary>
public class WalSpareRotationTests
{

    [Fact]
    public async Task A_group_that_would_grow_the_first_wal_moves_on_to_the_spare_and_a_power_loss_after_it_loses_nothing()
    {
        using var dir = new TempDirectory();
        var device = new PowerLossDevice();
        var options = new PyramidOptions { Device = device };
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

        await PowerLossDevice.LosePowerAsync(store, device);
        await using var reopened = PyramidStore.Open(dir.Path, options);
        Assert.Equal(new LogBounds(0, written), reopened.GetLogBounds(1));
        for (ulong i = 0; i < written; i++)
        {
            Assert.Equal(Payload(i), (await reopened.ReadAsync(1, i))!.Payload.ToArray());
        }

        Assert.Equal(0, reopened.Recovery.DroppedBytes);
    }

    // The first file's preallocation (4 MiB) and its 8-byte header.
    private const long WriteAheadLogBytes = (4 << 20) + 8;
}
