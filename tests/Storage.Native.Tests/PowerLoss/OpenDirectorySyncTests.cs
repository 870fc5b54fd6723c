using System.Text;

namespace Pyralog.Storage.Native.Tests.PowerLoss;

/// <summary>What an open deletes or creates in the store's directory reaches the disk only after the directory entries it
/// relies on did.</summary>
public class OpenDirectorySyncTests
{
    private const ulong Log = 1;

    /// <summary>
    /// A compaction renamed its MANIFEST into place and the process died before the directory sync. The next open reads
    /// that manifest (it is in the page cache) and deletes the compaction's inputs, which it no longer names. If those
    /// deletes can reach the disk before the rename does, a power loss leaves the old manifest naming deleted segments:
    /// the open must sync the directory before it deletes anything.
    /// </summary>
    [Fact]
    public async Task An_open_makes_the_manifest_it_read_durable_before_it_deletes_what_that_manifest_dropped()
    {
        using var dir = new TempDirectory();
        var device = new PowerLossDevice();
        var options = new PyramidOptions { BackgroundWork = false, Device = device };
        var store = PyramidStore.Open(dir.Path, options);
        for (var i = 0; i < 10; i++)
        {
            await store.AppendAsync(Log, 1, (ulong)i, Encoding.UTF8.GetBytes($"record-{i}"));
            if (i % 5 == 4)
            {
                await store.FlushAsync(); // two segments, and an empty memtable: the compaction's manifest sync is the next directory sync
            }
        }

        device.CutPowerAtDirectorySync();
        await Assert.ThrowsAsync<IOException>(() => store.CompactAsync());
        await PowerLossDevice.CrashProcessAsync(store, device);

        // The open's first directory sync is the last moment before a power loss here.
        device.CutPowerAtDirectorySync();
        Assert.ThrowsAny<IOException>(() => PyramidStore.Open(dir.Path, options));
        device.RestoreDurableState(keepUnsyncedDeletes: true);

        await using var reopened = PyramidStore.Open(dir.Path, options);
        Assert.Equal(new Log.LogBounds(0, 10), reopened.GetLogBounds(Log));
        for (ulong i = 0; i < 10; i++)
        {
            Assert.Equal($"record-{i}", Encoding.UTF8.GetString((await reopened.ReadAsync(Log, i))!.Payload));
        }
    }

    /// <summary>
    /// A store opened in a directory that did not exist, nested two levels deep: its writes were synced and acknowledged,
    /// so a power loss must not take the directories they live in. Each level's entry is durable only once its parent
    /// was synced.
    /// </summary>
    [Fact]
    public async Task A_new_store_directory_and_its_new_parents_survive_a_power_loss()
    {
        using var dir = new TempDirectory();
        var device = new PowerLossDevice();
        device.TrackDirectoriesUnder(dir.Path);
        var options = new PyramidOptions { BackgroundWork = false, Device = device };
        var path = Path.Combine(dir.Path, "logs", "store");
        var store = PyramidStore.Open(path, options);
        for (var i = 0; i < 5; i++)
        {
            await store.AppendAsync(Log, 1, (ulong)i, Encoding.UTF8.GetBytes($"record-{i}"));
        }

        await PowerLossDevice.LosePowerAsync(store, device);

        Assert.True(Directory.Exists(path), "the power loss took the store's directory");
        await using var reopened = PyramidStore.Open(path, options);
        Assert.Equal(new Log.LogBounds(0, 5), reopened.GetLogBounds(Log));
        for (ulong i = 0; i < 5; i++)
        {
            Assert.Equal($"record-{i}", Encoding.UTF8.GetString((await reopened.ReadAsync(Log, i))!.Payload));
        }
    }
}
