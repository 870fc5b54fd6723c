using Pyralog.Storage.Native.Log;

namespace Pyralog.Storage.Native.Tests.PowerLoss;

/// <summary>
/// A segment goes to the disk in writeback steps, each waiting for the one before; the kernel reports a failed writeback
/// to one waiting call per descriptor, so when a step's wait is told, the segment's fdatasync succeeds over the lost
/// pages. The flush must fail then, as it does when the sync itself fails, and keep the WAL that holds its records.
/// </summary>
public class FailedWritebackTests
{
    private const ulong Log = 1;

    [Fact]
    public async Task A_flush_whose_segment_writeback_failed_fails_and_a_reopen_serves_every_acknowledged_record()
    {
        using var dir = new TempDirectory();
        var device = new PowerLossDevice();
        var options = new PyramidOptions { BackgroundWork = false, Device = device };
        var payload = new byte[1000];
        new Random(11).NextBytes(payload);
        var store = PyramidStore.Open(dir.Path, options);
        for (ulong i = 0; i < 3000; i++)
        {
            await store.AppendAsync(Log, 1, i, payload);
        }

        // The segment's first step (3 MB of records: many steps); the second step's wait is told, the sync would not be.
        device.FailNextWriteback("seg-");
        var error = await Assert.ThrowsAsync<IOException>(() => store.FlushAsync());
        Assert.Matches(
            @"^'.*seg-\d+\.pyr' cannot be made durable: a writeback of it failed \(sync_file_range failed on '.*seg-\d+\.pyr' \(errno 5: injected writeback failure\)\)$",
            error.Message);
        Assert.Equal(0, store.GetStatistics().Flushes);
        Assert.Empty(Directory.GetFiles(dir.Path, "seg-*")); // the failed flush's output is gone
        await PowerLossDevice.LosePowerAsync(store, device);

        await using var reopened = PyramidStore.Open(dir.Path, options);
        Assert.Equal(3000, reopened.Recovery.FramesReplayed); // from the WAL the flush did not let go of
        Assert.Equal(new LogBounds(0, 3000), reopened.GetLogBounds(Log));
        for (ulong i = 0; i < 3000; i++)
        {
            Assert.Equal(payload, (await reopened.ReadAsync(Log, i))!.Payload.ToArray());
        }
    }
}
