using System.Text;
using Pyralog.Storage.Native.Log;

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
        var tornAt = Wal.WriteAheadLog.HeaderBytes + (6 * frameLength);
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

    /// <summary>
    /// The frames written since the last sync may reach the disk in any order: a power loss that keeps later ones and not
    /// the first (a multi-frame group, or frames acknowledged before their sync) leaves damage followed by intact frames.
    /// They were all sealed before a sync covered the damage, so none was acknowledged as synced: the tail is dropped from
    /// the damage on and reported, and the store opens, where it used to refuse to as if synced data had been damaged.
    /// </summary>
    [Theory]
    [InlineData(1)]
    [InlineData(8)]
    [InlineData(60)]
    public async Task Unsynced_frames_of_which_the_disk_kept_later_ones_and_not_the_first_are_a_torn_tail(int lostBytes)
    {
        var frameLength = WriteBatch.HeaderBytes + 21 + 12 + "record-0".Length;
        using var dir = new TempDirectory();
        var device = new PowerLossDevice();
        var options = new PyramidOptions { BackgroundWork = false, Device = device };
        var store = PyramidStore.Open(dir.Path, options);
        for (var i = 0; i < 3; i++)
        {
            await store.AppendAsync(Log, 1, (ulong)i, Encoding.UTF8.GetBytes($"record-{i}")); // synced
        }

        for (var i = 3; i < 6; i++)
        {
            using var batch = new WriteBatch { SkipSync = true }; // acknowledged before any sync: may be lost
            batch.Append(Log, 1, (ulong)i, Encoding.UTF8.GetBytes($"record-{i}"));
            await store.WriteAsync(batch);
        }

        var wal = Directory.GetFiles(dir.Path, "wal-*.log").Single();
        device.CutPower();
        await Assert.ThrowsAnyAsync<Exception>(async () => await store.DisposeAsync());
        device.RestoreDurableState(tornBytes: 3 * frameLength, lostBytes);

        await using var reopened = PyramidStore.Open(dir.Path, options);
        Assert.Equal(new LogBounds(0, 3), reopened.GetLogBounds(Log));
        Assert.Equal((wal, (long)Wal.WriteAheadLog.HeaderBytes + (3 * frameLength), 3L * frameLength), (reopened.Recovery.TornFile, reopened.Recovery.TornAtByte, reopened.Recovery.DroppedBytes));
        Assert.Equal("record-2", Encoding.UTF8.GetString((await reopened.ReadAsync(Log, 2))!.Payload));
        await reopened.AppendAsync(Log, 1, 3, "record-3 again"u8.ToArray());
    }

    /// <summary>Damage to a frame that a sync covered is not a torn write, whatever follows: frames sealed after that sync say so.</summary>
    [Fact]
    public async Task Damage_to_a_synced_frame_followed_by_unsynced_frames_is_reported_as_corruption()
    {
        var frameLength = WriteBatch.HeaderBytes + 21 + 12 + "record-0".Length;
        using var dir = new TempDirectory();
        var device = new PowerLossDevice();
        var options = new PyramidOptions { BackgroundWork = false, Device = device };
        var store = PyramidStore.Open(dir.Path, options);
        await store.AppendAsync(Log, 1, 0, "record-0"u8.ToArray());
        for (var i = 1; i < 3; i++)
        {
            using var batch = new WriteBatch { SkipSync = true };
            batch.Append(Log, 1, (ulong)i, Encoding.UTF8.GetBytes($"record-{i}"));
            await store.WriteAsync(batch);
        }

        await store.DisposeAsync();
        var wal = Directory.GetFiles(dir.Path, "wal-*.log").Single();
        var bytes = await File.ReadAllBytesAsync(wal);
        bytes[Wal.WriteAheadLog.HeaderBytes + (frameLength / 2)] ^= 0x10; // inside the synced frame
        await File.WriteAllBytesAsync(wal, bytes);
        var error = await Assert.ThrowsAsync<PyramidCorruptionException>(async () =>
        {
            await using var _ = PyramidStore.Open(dir.Path, new PyramidOptions { BackgroundWork = false });
        });
        Assert.Equal((wal, (long)Wal.WriteAheadLog.HeaderBytes), (error.FilePath, error.Position));
    }

    /// <summary>
    /// An Interval store's WAL is synced by the interval, a compaction or the close rather than per batch: frames sealed
    /// after such a sync say it covered what came before, so damage there is still reported, not dropped as a torn tail.
    /// </summary>
    [Fact]
    public async Task Damage_to_a_frame_an_interval_stores_sync_covered_is_reported_as_corruption()
    {
        var frameLength = WriteBatch.HeaderBytes + 21 + 12 + "record-0".Length;
        using var dir = new TempDirectory();
        var options = new PyramidOptions { BackgroundWork = false, Durability = DurabilityMode.Interval, SyncInterval = TimeSpan.FromHours(1) };
        var store = PyramidStore.Open(dir.Path, options);
        await store.AppendAsync(Log, 1, 0, "record-0"u8.ToArray());
        store.CompactDue(); // an Interval store's compaction syncs the WAL (to know which truncations are durable)
        for (var i = 1; i < 3; i++)
        {
            await store.AppendAsync(Log, 1, (ulong)i, Encoding.UTF8.GetBytes($"record-{i}"));
        }

        await store.DisposeAsync();
        var wal = Directory.GetFiles(dir.Path, "wal-*.log").Single();
        var bytes = await File.ReadAllBytesAsync(wal);
        bytes[Wal.WriteAheadLog.HeaderBytes + (frameLength / 2)] ^= 0x10;
        await File.WriteAllBytesAsync(wal, bytes);
        var error = await Assert.ThrowsAsync<PyramidCorruptionException>(async () =>
        {
            await using var _ = PyramidStore.Open(dir.Path, options);
        });
        Assert.Equal((wal, (long)Wal.WriteAheadLog.HeaderBytes), (error.FilePath, error.Position));
    }
}
