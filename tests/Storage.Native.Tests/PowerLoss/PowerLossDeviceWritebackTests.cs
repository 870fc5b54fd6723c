namespace Pyralog.Storage.Native.Tests.PowerLoss;

/// <summary>The power-loss device's failed writeback is Linux's: told once to each descriptor open on the file, by the
/// first call on it that waits (a writeback step's wait or an fdatasync); no later sync makes the write durable, a later
/// write over it does.</summary>
public class PowerLossDeviceWritebackTests
{
    [Fact]
    public void A_failed_writeback_is_told_once_to_each_descriptor_and_lost_to_a_power_loss_whatever_synced_after_it()
    {
        using var dir = new TempDirectory();
        var device = new PowerLossDevice();
        var path = Path.Combine(dir.Path, "seg-1");
        using var writer = device.Open(path, FileMode.CreateNew);
        using var other = device.Open(path, FileMode.Open);
        device.SyncDirectory(dir.Path);
        device.FailNextWriteback("seg-");
        writer.Write([1, 2, 3, 4], 0);
        writer.Write([5, 6], 4);

        writer.WriteBack(0, 0, 4); // starts writing, waits for nothing: not told
        Assert.Equal(
            $"sync_file_range failed on '{path}' (errno 5: injected writeback failure)",
            Assert.Throws<IOException>(() => writer.WriteBack(0, 4, 2)).Message);
        writer.WriteBack(0, 4, 2);
        writer.SyncData(); // this descriptor was told: its sync succeeds over the lost write
        Assert.Equal($"fdatasync failed on '{path}' (errno 5: injected writeback failure)", Assert.Throws<IOException>(other.SyncData).Message);
        other.SyncData();
        Assert.Equal(new byte[] { 1, 2, 3, 4, 5, 6 }, File.ReadAllBytes(path)); // the page cache still serves it

        device.RestoreDurableState();
        Assert.Equal(new byte[] { 0, 0, 0, 0, 5, 6 }, File.ReadAllBytes(path));
    }

    [Fact]
    public void A_write_over_a_failed_writeback_is_written_back_itself()
    {
        using var dir = new TempDirectory();
        var device = new PowerLossDevice();
        var path = Path.Combine(dir.Path, "seg-1");
        using (var file = device.Open(path, FileMode.CreateNew))
        {
            device.SyncDirectory(dir.Path);
            device.FailNextWriteback("seg-");
            file.Write([1, 2, 3, 4], 0);
            file.Write([7, 8], 1);
            Assert.Throws<IOException>(file.SyncData);
            file.SyncData();
        }

        device.RestoreDurableState();
        Assert.Equal(new byte[] { 0, 7, 8, 0 }, File.ReadAllBytes(path));
    }
}
