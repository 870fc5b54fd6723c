using System.Buffers.Binary;
using Pyralog.Storage.Native.Segments;
using Pyralog.Storage.Native.Tests.Devices;

namespace Pyralog.Storage.Native.Tests;

/// <summary>A flush hands its log segment's data blocks back to the page cache but keeps the segment's header page and
/// tail (index, bloom filter, meta block, footer), which opening the segment reads right away: dropping them too made
/// those reads fault back in a read-ahead window of the data just dropped, from the disk the WAL syncs on.</summary>
public class FlushPageCacheTests
{
    private const ulong Records = 8000; // about 8 MiB of data blocks: more than the largest folio and one read-ahead window

    [Fact]
    public async Task A_flushed_log_segment_keeps_only_its_tail_in_the_page_cache_and_reads_back()
    {
        using var dir = new TempDirectory();
        var payload = new byte[1000];
        new Random(11).NextBytes(payload);
        await using var store = PyramidStore.Open(dir.Path, new PyramidOptions());
        for (ulong i = 0; i < Records; i++)
        {
            await store.AppendAsync(1, 1, i, payload);
        }

        await store.FlushAsync();

        var path = Directory.GetFiles(dir.Path, SegmentFormat.FileName(0).Replace("0000000000", "*", StringComparison.Ordinal))
            .OrderByDescending(p => new FileInfo(p).Length).First();
        var length = new FileInfo(path).Length;
        var footer = new byte[SegmentFormat.FooterBytes];
        using (var file = File.OpenHandle(path))
        {
            Assert.Equal(footer.Length, RandomAccess.Read(file, footer, length - footer.Length));
        }

        var dataBytes = BinaryPrimitives.ReadInt64LittleEndian(footer.AsSpan(12)); // where the index begins
        Assert.True(dataBytes > 7_000_000, $"the segment holds {dataBytes} bytes of data blocks");
        const int page = PageCache.PageBytes;
        var tailStart = dataBytes / page * page;
        var tailPages = (length - tailStart + page - 1) / page;
        // The kernel drops whole folios only (on this machine up to 2 MiB each): the first folio, which holds the header's
        // page, stays. Dropping everything, opening the segment read back about 8 MiB.
        Assert.Equal(1, PageCache.ResidentPages(path, 0, page));
        Assert.InRange(PageCache.ResidentPages(path, page, tailStart - page), 0, (2 << 20) / page);
        Assert.Equal(tailPages, PageCache.ResidentPages(path, tailStart, length - tailStart));

        for (ulong i = 0; i < Records; i += 997)
        {
            Assert.Equal(payload, (await store.ReadAsync(1, i))!.Payload.ToArray());
        }
    }
}
