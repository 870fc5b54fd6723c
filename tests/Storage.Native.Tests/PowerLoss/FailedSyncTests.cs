using System.Text;

namespace Pyralog.Storage.Native.Tests.PowerLoss;

/// <summary>A write whose WAL fdatasync failed was reported as failed, so it must be absent after a reopen, even a
/// plain one (after a failed fdatasync the page cache still holds the frames, but they may never reach the disk).</summary>
public class FailedSyncTests
{
    private const ulong Log = 1;

    [Theory]
    [InlineData(10)]      // synced inline
    [InlineData(100_000)] // a group large enough that its sync overlaps the memtable apply
    public async Task A_write_whose_sync_failed_is_absent_after_a_reopen(int payloadBytes)
    {
        using var dir = new TempDirectory();
        var device = new PowerLossDevice();
        var options = new PyramidOptions { BackgroundWork = false, Device = device };
        var store = PyramidStore.Open(dir.Path, options);
        await store.AppendAsync(Log, 1, 0, "record-0"u8.ToArray());

        device.FailNextSync("wal-");
        var error = await Assert.ThrowsAsync<IOException>(async () => await store.AppendAsync(Log, 1, 1, new byte[payloadBytes]));
        Assert.Contains("could not be synced", error.Message);
        // Cut back to the end of the acknowledged frame (header, one-record run header, record).
        Assert.Equal(8 + WriteBatch.HeaderBytes + 21 + 12 + "record-0".Length, new FileInfo(Directory.GetFiles(dir.Path, "wal-*.log").Single()).Length);
        await store.DisposeAsync();

        await using var reopened = PyramidStore.Open(dir.Path, options);
        Assert.Equal(1ul, reopened.GetLogBounds(Log).Next);
        Assert.Equal(0, reopened.Recovery.DroppedBytes);
        Assert.Equal("record-0", Encoding.UTF8.GetString((await reopened.ReadAsync(Log, 0))!.Payload));
    }
}
