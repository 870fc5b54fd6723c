using System.Text;

namespace Pyralog.Storage.Native.Tests.PowerLoss;

/// <summary>A WAL write torn by a power loss at every byte: recovery keeps the synced frames, drops the torn one and
/// reports it (file, position, its length) once any of it reached the disk; a frame that reached it whole is kept.</summary>
public class PowerLossTornWriteTests
{
    private const ulong Log = 1;

    [Fact]
    public async Task A_wal_write_torn_at_every_byte_by_a_power_loss_is_dropped_and_reported()
    {
        var frameLength = WriteBatch.HeaderBytes + 21 + 12 + "record-6".Length;
        var tornAt = 8 + (6 * frameLength);
        for (var persisted = 0; persisted <= frameLength; persisted++)
        {
            using var dir = new TempDirectory();
            var device = new PowerLossDevice();
            var options = new PyramidOptions { BackgroundWork = false, Device = device };
            var store = PyramidStore.Open(dir.Path, options);
            for (var i = 0; i < 6; i++)
            {
                await store.AppendAsync(Log, 1, (ulong)i, Encoding.UTF8.GetBytes($"record-{i}"));
            }

            var wal = Directory.GetFiles(dir.Path, "wal-*.log").Single();
            device.CutPowerAfter(1); // the frame's write goes through, power goes at its fdatasync
            await Assert.ThrowsAsync<IOException>(async () => await store.AppendAsync(Log, 1, 6, "record-6"u8.ToArray()));
            await PowerLossDevice.LosePowerAsync(store, device, persisted);

            await using var reopened = PyramidStore.Open(dir.Path, options);
            var context = $"{persisted} bytes of the frame persisted";
            var whole = persisted == frameLength;
            Assert.True(reopened.GetLogBounds(Log).Next == (whole ? 7ul : 6ul), context);
            Assert.True(reopened.Recovery.TornFile == (whole || persisted == 0 ? null : wal), context);
            Assert.True(reopened.Recovery.TornAtByte == (whole || persisted == 0 ? 0 : tornAt), context);
            Assert.True(reopened.Recovery.DroppedBytes == (whole || persisted == 0 ? 0 : frameLength), context);
            for (ulong i = 0; i < reopened.GetLogBounds(Log).Next; i++)
            {
                Assert.Equal($"record-{i}", Encoding.UTF8.GetString((await reopened.ReadAsync(Log, i))!.Payload));
            }

            await reopened.AppendAsync(Log, 2, reopened.GetLogBounds(Log).Next, "after"u8.ToArray());
        }
    }
}
