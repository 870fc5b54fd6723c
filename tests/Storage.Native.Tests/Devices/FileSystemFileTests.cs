using Pyralog.Storage.Native.Devices;

namespace Pyralog.Storage.Native.Tests.Devices;

/// <summary>A synced file's pages leave the page cache when dropped (a flush's segments do, for the next flush to write
/// into), and the file reads back byte for byte.</summary>
public class FileSystemFileTests
{
    private const int Length = (3 << 20) + 12_345;

    [Fact]
    public void A_synced_file_whose_pages_are_dropped_leaves_the_page_cache_and_reads_back_exactly()
    {
        using var dir = new TempDirectory();
        var path = Path.Combine(dir.Path, "dropped");
        var data = WriteAndSync(path, seed: 1, dropBytes: long.MaxValue);

        Assert.Equal(0, PageCache.ResidentPages(path, 0, Length));
        Assert.Equal(data, File.ReadAllBytes(path));
    }

    [Fact]
    public void A_synced_file_whose_pages_are_kept_stays_in_the_page_cache()
    {
        using var dir = new TempDirectory();
        var path = Path.Combine(dir.Path, "kept");
        var data = WriteAndSync(path, seed: 2, dropBytes: 0);

        Assert.Equal((Length + PageCache.PageBytes - 1) / PageCache.PageBytes, PageCache.ResidentPages(path, 0, Length));
        Assert.Equal(data, File.ReadAllBytes(path));
    }

    [Fact]
    public void Dropping_a_prefix_keeps_the_pages_after_it()
    {
        using var dir = new TempDirectory();
        var path = Path.Combine(dir.Path, "prefix");
        var data = WriteAndSync(path, seed: 3, dropBytes: 2 << 20);

        Assert.Equal(0, PageCache.ResidentPages(path, 0, 2 << 20));
        Assert.Equal((Length - (2 << 20) + PageCache.PageBytes - 1) / PageCache.PageBytes, PageCache.ResidentPages(path, 2 << 20, Length - (2 << 20)));
        Assert.Equal(data, File.ReadAllBytes(path));
    }

    [Fact]
    public void A_failed_writeback_is_an_error_naming_the_call_the_range_the_file_and_the_errno()
    {
        using var dir = new TempDirectory();
        var path = Path.Combine(dir.Path, "written-back");
        using var file = FileSystemDevice.Instance.Open(path, FileMode.CreateNew);
        file.Write(new byte[8192], 0);

        // A range the kernel refuses (EINVAL) fails as a writeback error reported to the wait does: not dropped.
        var waited = Assert.Throws<IOException>(() => file.WriteBack(-4096, 0, 4096));
        Assert.Equal($"sync_file_range writing back bytes [-4096, 0) of '{path}' failed (errno 22)", waited.Message);
        var started = Assert.Throws<IOException>(() => file.WriteBack(0, 4096, -8192));
        Assert.Equal($"sync_file_range starting the writeback of bytes [4096, -4096) of '{path}' failed (errno 22)", started.Message);
        file.WriteBack(0, 4096, 4096);
        file.SyncData();
    }

    private static byte[] WriteAndSync(string path, int seed, long dropBytes)
    {
        var data = new byte[Length];
        new Random(seed).NextBytes(data);
        using var file = FileSystemDevice.Instance.Open(path, FileMode.CreateNew);
        for (var at = 0; at < Length; at += 1 << 20)
        {
            file.Write(data.AsSpan(at, Math.Min(1 << 20, Length - at)), at);
        }

        file.SyncData();
        file.DropCachedPages(0, dropBytes);

        return data;
    }
}
