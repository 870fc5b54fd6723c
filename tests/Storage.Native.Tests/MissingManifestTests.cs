using System.Text;

namespace Pyralog.Storage.Native.Tests;

/// <summary>A store whose MANIFEST is gone must not open as empty (that would delete every segment as an orphan).</summary>
public class MissingManifestTests
{
    private const ulong Log = 1;

    private static readonly PyramidOptions NoBackground = new() { BackgroundWork = false };

    [Theory]
    [InlineData(true)]  // segments and a WAL
    [InlineData(false)] // never flushed: a WAL only
    public async Task Data_files_without_a_manifest_are_refused_and_left_in_place(bool flushed)
    {
        using var dir = new TempDirectory();
        await using (var store = PyramidStore.Open(dir.Path, NoBackground))
        {
            await store.AppendAsync(Log, 1, 0, "record-0"u8.ToArray());
            if (flushed)
            {
                await store.FlushAsync();
            }
        }

        File.Delete(Path.Combine(dir.Path, "MANIFEST"));
        var before = Directory.GetFiles(dir.Path).Order(StringComparer.Ordinal).ToArray();

        var error = await Assert.ThrowsAsync<IOException>(async () =>
        {
            await using var reopened = PyramidStore.Open(dir.Path, NoBackground);
        });

        Assert.Contains($"'{dir.Path}' has no MANIFEST", error.Message);
        Assert.Contains(flushed ? "seg-" : "wal-", error.Message);
        Assert.Equal(before, Directory.GetFiles(dir.Path).Order(StringComparer.Ordinal).ToArray());
    }

    [Fact]
    public async Task A_new_store_has_a_manifest_before_its_first_write_so_an_unflushed_store_reopens()
    {
        using var dir = new TempDirectory();
        await using (var store = PyramidStore.Open(dir.Path, NoBackground))
        {
            Assert.True(File.Exists(Path.Combine(dir.Path, "MANIFEST")));
            await store.AppendAsync(Log, 1, 0, "record-0"u8.ToArray());
        }

        await using var reopened = PyramidStore.Open(dir.Path, NoBackground);
        Assert.Equal(1ul, reopened.GetLogBounds(Log).Next);
        Assert.Equal("record-0", Encoding.UTF8.GetString((await reopened.ReadAsync(Log, 0))!.Payload));
    }
}
