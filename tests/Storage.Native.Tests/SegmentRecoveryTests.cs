using System.Buffers.Binary;
using System.Text;
using Pyralog.Storage.Native.Tests.Segments;

namespace Pyralog.Storage.Native.Tests;

public class SegmentRecoveryTests
{
    private const ulong Log = 1;

    private static readonly PyramidOptions Options = new() { BackgroundWork = false, BlockBytes = 1024, BlockCacheBytes = 0 };

    private static byte[] Payload(ulong offset) => Encoding.UTF8.GetBytes($"payload-{offset}-{new string('x', (int)(offset % 37))}");

    private static async Task FillAsync(PyramidStore store, int records)
    {
        await store.AppendAsync(Log, Enumerable.Range(0, records).Select(i => new AppendRecord(1, (ulong)i, Payload((ulong)i))).ToArray());
        await store.PutAsync("hard-state"u8.ToArray(), "term=3"u8.ToArray());
    }

    private static async Task VerifyAllAsync(PyramidStore store, int records)
    {
        for (var i = 0; i < records; i++)
        {
            Assert.Equal(Payload((ulong)i), (await store.ReadAsync(Log, (ulong)i))!.Payload);
        }

        Assert.Equal("term=3"u8.ToArray(), await store.GetAsync("hard-state"u8.ToArray()));
    }

    [Fact]
    public async Task Any_flipped_byte_in_a_segment_is_reported_with_file_and_position_never_returned()
    {
        using var dir = new TempDirectory();
        await using (var store = PyramidStore.Open(dir.Path, Options))
        {
            await FillAsync(store, 300);
            await store.FlushAsync();
        }

        var segment = Directory.GetFiles(dir.Path, "seg-*.pyr").OrderBy(f => new FileInfo(f).Length).Last(); // the log segment
        var original = await File.ReadAllBytesAsync(segment);
        var seed = TestSeed.Of(20261201);
        var random = new Random(seed);
        for (var round = 0; round < 60; round++)
        {
            var position = round < 8 ? round : random.Next(original.Length); // the header bytes, then anywhere
            var bit = random.Next(8);
            var flipped = $"seed {seed} (PYRALOG_TEST_SEED shifts it), round {round}, byte {position} bit {bit}";
            var bytes = (byte[])original.Clone();
            bytes[position] ^= (byte)(1 << bit);
            await File.WriteAllBytesAsync(segment, bytes);
            // Recorded rather than Assert.ThrowsAsync: a flip that goes unnoticed (no exception) or returns wrong data (an
            // assertion failing in the reads) must name the seed and byte too.
            var thrown = await Record.ExceptionAsync(async () =>
            {
                await using var store = PyramidStore.Open(dir.Path, Options);
                await VerifyAllAsync(store, 300);
                using var cursor = store.ReadLog(Log, 0);
                while (cursor.MoveNext())
                {
                    Assert.Equal(Payload(cursor.Offset), cursor.Payload.ToArray());
                }
            });
            Assert.True(thrown is PyramidCorruptionException, $"{flipped}: expected a PyramidCorruptionException, got {thrown?.ToString() ?? "no error"}");
            var error = Assert.IsType<PyramidCorruptionException>(thrown); // checked above, with the seed and byte in the message
            Assert.True(error.FilePath == segment, $"{flipped}: {error.Message}");
            Assert.True(error.Position >= 0 && error.Position < original.Length, $"{flipped}: position {error.Position}");
        }

        await File.WriteAllBytesAsync(segment, original);
        await using (var store = PyramidStore.Open(dir.Path, Options))
        {
            await VerifyAllAsync(store, 300);
        }
    }

    [Fact]
    public async Task Segment_torn_during_flush_at_every_tail_byte_is_discarded_and_the_wal_recovers_it()
    {
        using var source = new TempDirectory();
        byte[] wal, manifest;
        string walName;
        await using (var store = PyramidStore.Open(source.Path, Options))
        {
            await FillAsync(store, 200);
            walName = Path.GetFileName(Directory.GetFiles(source.Path, "wal-*.log").Single());
            wal = await File.ReadAllBytesAsync(Path.Combine(source.Path, walName));
            manifest = await File.ReadAllBytesAsync(Path.Combine(source.Path, "MANIFEST")); // as before the flush
            await store.FlushAsync();
        }

        var segmentPath = Directory.GetFiles(source.Path, "seg-*.pyr").OrderBy(f => new FileInfo(f).Length).Last();
        var segment = await File.ReadAllBytesAsync(segmentPath);
        for (var cut = segment.Length - 120; cut <= segment.Length; cut++)
        {
            using var dir = new TempDirectory();
            await File.WriteAllBytesAsync(Path.Combine(dir.Path, walName), wal);
            await File.WriteAllBytesAsync(Path.Combine(dir.Path, "MANIFEST"), manifest);
            await File.WriteAllBytesAsync(Path.Combine(dir.Path, Path.GetFileName(segmentPath)), segment.AsSpan(0, cut).ToArray());
            await using var store = PyramidStore.Open(dir.Path, Options);
            Assert.Equal(1, store.Recovery.OrphanSegmentsDeleted);
            Assert.Equal(200ul, store.GetLogBounds(Log).Next);
            await VerifyAllAsync(store, 200);
        }
    }

    [Fact]
    public async Task A_committed_segment_cut_short_is_reported_not_silently_lost()
    {
        using var dir = new TempDirectory();
        await using (var store = PyramidStore.Open(dir.Path, Options))
        {
            await FillAsync(store, 100);
            await store.FlushAsync();
        }

        var segment = Directory.GetFiles(dir.Path, "seg-*.pyr").First();
        var bytes = await File.ReadAllBytesAsync(segment);
        await File.WriteAllBytesAsync(segment, bytes.AsSpan(0, bytes.Length - 1).ToArray());
        var error = Assert.Throws<PyramidCorruptionException>(() => PyramidStore.Open(dir.Path, Options));
        Assert.Equal(segment, error.FilePath);
        Assert.Contains("manifest recorded", error.Message);
    }

    [Theory]
    [InlineData("MANIFEST")]
    [InlineData("wal")]
    [InlineData("seg")]
    public async Task A_store_written_by_a_newer_format_version_is_refused_with_a_message(string file)
    {
        using var dir = new TempDirectory();
        await using (var store = PyramidStore.Open(dir.Path, Options))
        {
            await FillAsync(store, 10);
            await store.FlushAsync();
            await store.AppendAsync(Log, 1, 10, Payload(10));
        }

        var path = file == "MANIFEST"
            ? Path.Combine(dir.Path, "MANIFEST")
            : Directory.GetFiles(dir.Path, file + "-*").OrderBy(f => f).Last();
        var bytes = await File.ReadAllBytesAsync(path);
        BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(4), 99);
        if (file == "seg")
        {
            // A genuine newer segment carries the version in its checksummed footer too.
            var footer = bytes.AsSpan(bytes.Length - 48);
            BinaryPrimitives.WriteUInt16LittleEndian(footer[36..], 99);
            BinaryPrimitives.WriteUInt32LittleEndian(footer[40..], Hashing.Crc32C.Compute(footer[..40]));
        }

        await File.WriteAllBytesAsync(path, bytes);
        var error = Assert.Throws<NotSupportedException>(() => PyramidStore.Open(dir.Path, Options));
        Assert.Contains("version 99", error.Message);
        Assert.Contains(path, error.Message);
    }

    [Fact]
    public async Task A_bloom_filter_damaged_on_disk_while_the_store_is_open_fails_the_read_that_maps_it_again_instead_of_returning_the_older_version()
    {
        const int keys = 2_000; // enough that the newer segment's mapping is not verified again at every read
        static byte[] Key(int i) => Encoding.ASCII.GetBytes($"k{i:D5}");
        using var dir = new TempDirectory();
        var options = new PyramidOptions { BackgroundWork = false, BlockBytes = 1024, BlockCacheBytes = 0, MaxMappedSegments = 1 };
        await using var store = PyramidStore.Open(dir.Path, options);
        await store.PutAsync("a"u8.ToArray(), "only-in-the-older-segment"u8.ToArray());
        for (var i = 0; i < keys; i++)
        {
            await store.PutAsync(Key(i), "old"u8.ToArray());
        }

        await store.CompactAsync();
        for (var i = 0; i < keys; i++)
        {
            await store.PutAsync(Key(i), "new"u8.ToArray());
        }

        await store.FlushAsync();
        var levels = store.GetStatistics().Levels;
        Assert.Equal(1, levels[0].Segments);
        Assert.Equal(1, levels.Skip(1).Sum(level => level.Segments));
        var newer = Directory.GetFiles(dir.Path, "seg-*.pyr").Max(StringComparer.Ordinal)!; // numbered in order of writing

        // "a" is below the newer segment's keys: the read maps only the older one again, and under a limit of one
        // mapping the newer one, unread since its flush, is unmapped for it.
        Assert.Equal("only-in-the-older-segment"u8.ToArray(), await store.GetAsync("a"u8.ToArray()));
        Assert.Equal(1, store.GetStatistics().MappedSegments);

        SegmentFileDamage.ClearBloomBits(newer); // every key now looks absent from the newer segment
        var error = await Assert.ThrowsAsync<PyramidCorruptionException>(async () => await store.GetAsync(Key(7)));
        Assert.Equal(newer, error.FilePath);
        Assert.Contains("bloom filter checksum mismatch", error.Message);
    }
}
