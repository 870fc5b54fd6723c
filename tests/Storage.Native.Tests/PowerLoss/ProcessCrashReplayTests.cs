using Pyralog.Storage.Native.Log;
using Pyralog.Storage.Native.Wal;

namespace Pyralog.Storage.Native.Tests.PowerLoss;

/// <summary>
/// A process crash between a group's write and its fdatasync leaves intact frames in the page cache only. A reopen
/// replays them and serves them as durable, so it must sync them first: a power loss later must not take back a
/// record the store served.
/// </summary>
public class ProcessCrashReplayTests
{
    private const ulong Log = 1;
    private const int RunHeaderBytes = 21;
    private const int RecordHeaderBytes = 12;

    [Fact]
    public async Task Frames_written_but_never_synced_before_a_process_crash_survive_a_power_loss_after_the_reopen()
    {
        using var dir = new TempDirectory();
        var device = new PowerLossDevice();
        var options = new PyramidOptions { BackgroundWork = false, Device = device };
        var store = PyramidStore.Open(dir.Path, options);
        // One record whose frame ends exactly where the new WAL file's preallocated zeros end: replay finds no tail to
        // cut after it (the cut was the only thing that synced a replayed file).
        var payload = new byte[WriteAheadLog.PreallocatedBytes - WriteBatch.HeaderBytes - RunHeaderBytes - RecordHeaderBytes];
        new Random(5).NextBytes(payload);
        var hold = device.HoldNextSync("wal-");
        var append = store.AppendAsync(Log, 1, 0, payload).AsTask();
        await hold.Reached.Task;
        device.CrashProcess(); // the frame is written; the process dies before its fdatasync
        hold.Release();
        await Assert.ThrowsAsync<IOException>(() => append);
        await PowerLossDevice.CrashProcessAsync(store, device);
        var wal = Assert.Single(Directory.GetFiles(dir.Path, "wal-*.log"));
        Assert.Equal(WriteAheadLog.HeaderBytes + WriteAheadLog.PreallocatedBytes, new FileInfo(wal).Length); // nothing after the frame

        var reopened = PyramidStore.Open(dir.Path, options);
        Assert.Equal(0, reopened.Recovery.DroppedBytes);
        Assert.Equal(new LogBounds(0, 1), reopened.GetLogBounds(Log));
        Assert.Equal(payload, (await reopened.ReadAsync(Log, 0))!.Payload.ToArray()); // served
        await PowerLossDevice.LosePowerAsync(reopened, device);

        await using var afterPowerLoss = PyramidStore.Open(dir.Path, options);
        Assert.Equal(new LogBounds(0, 1), afterPowerLoss.GetLogBounds(Log));
        Assert.Equal(payload, (await afterPowerLoss.ReadAsync(Log, 0))!.Payload.ToArray());
    }
}
