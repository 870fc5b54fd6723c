using System.Text;

namespace Pyralog.Storage.Native.Tests.PowerLoss;

/// <summary>A flush or compaction whose manifest write fails installs nothing and keeps nothing of its outputs mapped; a
/// later one succeeds, and the store reopens with every acknowledged write.</summary>
public class FailedManifestWriteTests
{
    private const ulong Log = 1;

    [Fact]
    public async Task Outputs_whose_manifest_write_failed_are_let_go()
    {
        using var dir = new TempDirectory();
        var device = new PowerLossDevice();
        var options = new PyramidOptions { BackgroundWork = false, Device = device };
        var store = PyramidStore.Open(dir.Path, options);
        for (var i = 0; i < 10; i++)
        {
            await store.AppendAsync(Log, 1, (ulong)i, Encoding.UTF8.GetBytes($"record-{i}"));
        }

        device.FailNextWrite("MANIFEST");
        await Assert.ThrowsAsync<IOException>(() => store.FlushAsync());
        Assert.Equal(0, store.GetStatistics().MappedSegments); // the flush's segment was opened, then never installed

        await store.FlushAsync(); // the memtable is still there to flush
        await store.AppendAsync(Log, 1, 10, "record-10"u8.ToArray());
        await store.FlushAsync();
        var installed = store.GetStatistics().Levels.Sum(l => l.Segments);
        Assert.True(installed >= 2, $"{installed} segments after two flushes");
        Assert.Equal(installed, store.GetStatistics().MappedSegments);
        device.FailNextWrite("MANIFEST");
        await Assert.ThrowsAsync<IOException>(() => store.CompactAsync());
        Assert.Equal(installed, store.GetStatistics().MappedSegments); // the flushed segments; not the compaction's output

        await store.CompactAsync();
        await store.DisposeAsync();
        await using var reopened = PyramidStore.Open(dir.Path, options);
        Assert.Equal(new Log.LogBounds(0, 11), reopened.GetLogBounds(Log));
        Assert.Equal("record-10", Encoding.UTF8.GetString((await reopened.ReadAsync(Log, 10))!.Payload));
    }
}
