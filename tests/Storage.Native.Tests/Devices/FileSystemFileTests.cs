using System.IO.MemoryMappedFiles;
using System.Runtime.InteropServices;
using Pyralog.Storage.Native.Devices;

namespace Pyralog.Storage.Native.Tests.Devices;

/// <summary>A synced file's pages leave the page cache when dropped (a flush's segments do, for the next flush to write
/// into), and the file reads back byte for byte.</summary>
public partial class FileSystemFileTests
{
    private const int PageBytes = 4096;
    private const int Length = (3 << 20) + 12_345;

    [Fact]
    public void A_synced_file_whose_pages_are_dropped_leaves_the_page_cache_and_reads_back_exactly()
    {
        using var dir = new TempDirectory();
        var path = Path.Combine(dir.Path, "dropped");
        var data = WriteAndSync(path, seed: 1, drop: true);

        Assert.Equal(0, ResidentPages(path));
        Assert.Equal(data, File.ReadAllBytes(path));
    }

    [Fact]
    public void A_synced_file_whose_pages_are_kept_stays_in_the_page_cache()
    {
        using var dir = new TempDirectory();
        var path = Path.Combine(dir.Path, "kept");
        var data = WriteAndSync(path, seed: 2, drop: false);

        Assert.Equal((Length + PageBytes - 1) / PageBytes, ResidentPages(path));
        Assert.Equal(data, File.ReadAllBytes(path));
    }

    private static byte[] WriteAndSync(string path, int seed, bool drop)
    {
        var data = new byte[Length];
        new Random(seed).NextBytes(data);
        using var file = FileSystemDevice.Instance.Open(path, FileMode.CreateNew);
        for (var at = 0; at < Length; at += 1 << 20)
        {
            file.Write(data.AsSpan(at, Math.Min(1 << 20, Length - at)), at);
        }

        file.SyncData();
        if (drop)
        {
            file.DropCachedPages();
        }

        return data;
    }

    /// <summary>The file's pages in the page cache (mincore over a mapping, which faults nothing in).</summary>
    private static unsafe int ResidentPages(string path)
    {
        using var map = MemoryMappedFile.CreateFromFile(path, FileMode.Open, null, 0, MemoryMappedFileAccess.Read);
        using var view = map.CreateViewAccessor(0, Length, MemoryMappedFileAccess.Read);
        byte* start = null;
        view.SafeMemoryMappedViewHandle.AcquirePointer(ref start);
        try
        {
            var residency = new byte[(Length + PageBytes - 1) / PageBytes];
            fixed (byte* vector = residency)
            {
                Assert.Equal(0, mincore(start + view.PointerOffset, Length, vector));
            }

            var resident = 0;
            foreach (var page in residency)
            {
                resident += page & 1;
            }

            return resident;
        }
        finally
        {
            view.SafeMemoryMappedViewHandle.ReleasePointer();
        }
    }

    [LibraryImport("libc", SetLastError = true)]
    private static unsafe partial int mincore(byte* address, nuint length, byte* vector);
}
