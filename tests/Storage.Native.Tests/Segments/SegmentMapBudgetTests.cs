using System.Buffers.Binary;
using System.Text;
using Microsoft.Extensions.Time.Testing;

namespace Pyralog.Storage.Native.Tests.Segments;

/// <summary>
/// A store holds at most <see cref="PyramidOptions.MaxMappedSegments"/> segments mapped (a process reaching
/// <c>vm.max_map_count</c> dies), unmaps the least recently read past it and maps them again when read, and never
/// unmaps a segment a reader still holds spans into. The mappings are counted where the kernel keeps them
/// (<c>/proc/self/maps</c>), not only in the store's own statistics.
/// </summary>
public sealed class SegmentMapBudgetTests
{
    private const int Segments = 8;
    private const int RecordsPerSegment = 300;

    private static PyramidOptions Options(int maxMapped) => new()
    {
        BackgroundWork = false,
        Durability = DurabilityMode.None,
        MemtableBytes = 1 << 20, // flushed by hand: one segment per flush
        BlockBytes = 1024,
        MaxMappedSegments = maxMapped,
        TimeProvider = new FakeTimeProvider(), // retention markers only at each log's first append: a fixed layout
    };

    private static byte[] Payload(ulong log, ulong offset)
    {
        var bytes = new byte[24 + (int)(offset % 61)];
        BinaryPrimitives.WriteUInt64LittleEndian(bytes, log);
        BinaryPrimitives.WriteUInt64LittleEndian(bytes.AsSpan(8), offset);
        BinaryPrimitives.WriteUInt64LittleEndian(bytes.AsSpan(16), (offset + 1) * 0x9E3779B97F4A7C15UL);
        return bytes;
    }

    private static byte[] Key(int segment) => Encoding.ASCII.GetBytes($"key-{segment:D3}");

    /// <summary>Two logs and one key per flush: every segment holds records of both logs and a key of its own.</summary>
    private static async Task FillAsync(PyramidStore store)
    {
        for (var segment = 0; segment < Segments; segment++)
        {
            var from = (ulong)(segment * RecordsPerSegment);
            foreach (var log in new ulong[] { 1, 2 })
            {
                var batch = new AppendRecord[RecordsPerSegment];
                for (var i = 0; i < batch.Length; i++)
                {
                    batch[i] = new AppendRecord(1, from + (ulong)i, Payload(log, from + (ulong)i));
                }

                await store.AppendAsync(log, batch);
            }

            await store.PutAsync(Key(segment), Encoding.ASCII.GetBytes($"value-{segment}"));
            await store.FlushAsync();
        }
    }

    /// <summary>How many mappings of the store's segment files the kernel holds for this process.</summary>
    private static int MappedSegmentFiles(string directory)
    {
        var prefix = Path.Combine(directory, "seg-");
        return File.ReadLines("/proc/self/maps").Count(line => line.Contains(prefix, StringComparison.Ordinal));
    }

    /// <summary>How many descriptors this process holds open on the store's segment files.</summary>
    private static int OpenSegmentFiles(string directory)
    {
        var prefix = Path.Combine(directory, "seg-");
        return Directory.EnumerateFileSystemEntries("/proc/self/fd")
            .Count(fd => new FileInfo(fd).LinkTarget is { } target && target.StartsWith(prefix, StringComparison.Ordinal));
    }

    private static async Task AssertEverythingReadsBackAsync(PyramidStore store)
    {
        const ulong total = Segments * RecordsPerSegment;
        foreach (var log in new ulong[] { 1, 2 })
        {
            // Point reads, newest segment to oldest, so every read after the first few maps a segment again.
            for (var offset = total; offset-- > 0;)
            {
                var record = await store.ReadAsync(log, offset);
                Assert.NotNull(record);
                Assert.Equal(Payload(log, offset), record.Payload);
            }

            using var cursor = store.ReadLog(log, 0);
            ulong expected = 0;
            while (cursor.MoveNext())
            {
                Assert.Equal(expected, cursor.Offset);
                Assert.Equal(Payload(log, expected), cursor.Payload.ToArray());
                expected++;
            }

            Assert.Equal(total, expected);
        }

        for (var segment = 0; segment < Segments; segment++)
        {
            Assert.Equal(Encoding.ASCII.GetBytes($"value-{segment}"), await store.GetAsync(Key(segment)));
        }
    }

    [Fact]
    public async Task A_store_with_more_segments_than_its_limit_maps_at_most_the_limit_and_reads_everything()
    {
        using var dir = new TempDirectory();
        await using (var store = PyramidStore.Open(dir.Path, Options(maxMapped: 3)))
        {
            await FillAsync(store);
            var written = store.GetStatistics();
            // Each flush: a segment of log records and one of keys; the first also one of the logs' retention markers.
            Assert.Equal((2 * Segments) + 1, written.Levels[0].Segments);
            Assert.Equal(3, written.MappedSegmentLimit);
            Assert.Equal(3, written.MappedSegments);
            Assert.Equal(3, MappedSegmentFiles(dir.Path));
            Assert.Equal(0, OpenSegmentFiles(dir.Path)); // a mapping outlives its file's descriptor

            await AssertEverythingReadsBackAsync(store);
            var read = store.GetStatistics();
            Assert.Equal(3, read.MappedSegments);
            Assert.Equal(3, MappedSegmentFiles(dir.Path)); // every reader let go: nothing pinned past the limit
            Assert.True(read.SegmentRemaps >= Segments - 3, $"only {read.SegmentRemaps} remaps for {Segments} segments read under a limit of 3");
        }

        Assert.Equal(0, MappedSegmentFiles(dir.Path));

        // Reopening verifies every segment (each is mapped to check its checksums) and still holds the limit.
        await using (var store = PyramidStore.Open(dir.Path, Options(maxMapped: 3)))
        {
            Assert.Equal(3, MappedSegmentFiles(dir.Path));
            await AssertEverythingReadsBackAsync(store);

            await store.CompactAsync(); // reads every input through the budget, writes L1
            Assert.True(store.GetStatistics().MappedSegments <= 3);
            Assert.True(MappedSegmentFiles(dir.Path) <= 3);
            await AssertEverythingReadsBackAsync(store);
        }
    }

    [Fact]
    public async Task A_cursor_keeps_reading_a_segment_the_limit_unmapped_under_it()
    {
        using var dir = new TempDirectory();
        await using var store = PyramidStore.Open(dir.Path, Options(maxMapped: 1));
        await FillAsync(store);

        using var cursor = store.ReadLog(1, 0);
        for (ulong offset = 0; offset < 10; offset++)
        {
            Assert.True(cursor.MoveNext());
            Assert.Equal(Payload(1, offset), cursor.Payload.ToArray());
        }

        // Reads of every other segment take the one mapping the limit allows, over and over.
        for (var segment = Segments - 1; segment > 0; segment--)
        {
            Assert.Equal(Encoding.ASCII.GetBytes($"value-{segment}"), await store.GetAsync(Key(segment)));
        }

        // The log's overlapping L0 segments the cursor merges stay mapped for it, besides the one segment the limit
        // lets the store keep (the last read's).
        var logSegments = store.SegmentLayout()[0].Count(segment => segment.LogCount > 0);
        Assert.Equal(Segments, logSegments);
        Assert.Equal(logSegments + 1, MappedSegmentFiles(dir.Path));
        Assert.Equal(logSegments + 1, store.GetStatistics().MappedSegments);

        var expected = 10UL;
        while (cursor.MoveNext())
        {
            Assert.Equal(Payload(1, expected), cursor.Payload.ToArray());
            expected++;
        }

        Assert.Equal((ulong)(Segments * RecordsPerSegment), expected);
        cursor.Dispose();
        Assert.Equal(1, MappedSegmentFiles(dir.Path));
    }

    /// <summary>A log's segments in one level, a segment each 64 KiB (the smallest target): 24 of them.</summary>
    private static async Task<PyramidStore> OpenLevelOfManySegmentsAsync(string directory, int maxMapped)
    {
        var options = new PyramidOptions
        {
            BackgroundWork = false,
            Durability = DurabilityMode.None,
            MemtableBytes = 1 << 20,
            BlockBytes = 1024,
            TargetSegmentBytes = 64 << 10,
            SmallLogSegmentBytes = 0,
            TimeProvider = new FakeTimeProvider(),
        };
        await using (var store = PyramidStore.Open(directory, options))
        {
            for (var batch = 0UL; batch < 24; batch++)
            {
                var records = new AppendRecord[64];
                for (var i = 0; i < records.Length; i++)
                {
                    var offset = (batch * 64) + (ulong)i;
                    records[i] = new AppendRecord(1, offset, Payload(1, offset).Concat(new byte[1000]).ToArray());
                }

                await store.AppendAsync(1, records);
            }

            await store.FlushAsync();
            await store.CompactAsync();
            Assert.True(store.SegmentLayout()[1].Length >= 20, $"{store.SegmentLayout()[1].Length} segments in L1");
        }

        return PyramidStore.Open(directory, new PyramidOptions
        {
            BackgroundWork = false,
            Durability = DurabilityMode.None,
            BlockBytes = 1024,
            TargetSegmentBytes = 64 << 10,
            SmallLogSegmentBytes = 0,
            MaxMappedSegments = maxMapped,
            TimeProvider = new FakeTimeProvider(),
        });
    }

    [Fact]
    public async Task A_cursor_and_a_merge_through_a_level_of_many_segments_hold_one_of_them_mapped_at_a_time()
    {
        using var dir = new TempDirectory();
        await using var store = await OpenLevelOfManySegmentsAsync(dir.Path, maxMapped: 2);
        var level = store.SegmentLayout()[1].Length;
        var opened = store.GetStatistics().PeakMappedSegments; // the open maps each segment to verify it, under the limit
        Assert.True(opened <= 3, $"opening {level} segments held {opened} mappings at once");

        using (var cursor = store.ReadLog(1, 0))
        {
            var expected = 0UL;
            while (cursor.MoveNext())
            {
                Assert.Equal(Payload(1, expected), cursor.Payload[..Payload(1, expected).Length].ToArray());
                expected++;
                Assert.True(MappedSegmentFiles(dir.Path) <= 3, $"at offset {expected} the cursor holds {MappedSegmentFiles(dir.Path)} of {level} segments mapped");
            }

            Assert.Equal(24UL * 64, expected);
        }

        // A record after the level's last key: an L0 segment, merged with the whole level by a full compaction.
        await store.AppendAsync(1, 1, 24 * 64, Payload(1, 24 * 64));
        await store.FlushAsync();
        await store.CompactAsync();
        var peak = store.GetStatistics().PeakMappedSegments;
        Assert.True(peak <= 4, $"the merge of {level + 1} segments held {peak} mappings at once");
        Assert.Equal(Payload(1, 7), (await store.ReadAsync(1, 7))!.Payload[..Payload(1, 7).Length]);
    }

    [Fact]
    public async Task Concurrent_readers_and_a_compaction_under_a_limit_of_two_read_only_what_was_written()
    {
        using var dir = new TempDirectory();
        await using var store = PyramidStore.Open(dir.Path, Options(maxMapped: 2));
        await FillAsync(store);
        const ulong total = Segments * RecordsPerSegment;

        var readers = Enumerable.Range(0, 4).Select(seed => Task.Run(async () =>
        {
            var random = new Random(seed);
            for (var i = 0; i < 3_000; i++)
            {
                if (i % 10 == 0)
                {
                    var segment = random.Next(Segments);
                    Assert.Equal(Encoding.ASCII.GetBytes($"value-{segment}"), await store.GetAsync(Key(segment)));
                    continue;
                }

                var log = (ulong)random.Next(1, 3);
                var offset = (ulong)random.NextInt64((long)total);
                var record = await store.ReadAsync(log, offset);
                Assert.NotNull(record);
                Assert.Equal(Payload(log, offset), record.Payload);
            }
        })).ToArray();
        var compaction = Task.Run(() => store.CompactAsync());
        await Task.WhenAll([.. readers, compaction]);

        Assert.True(store.GetStatistics().MappedSegments <= 2);
        Assert.True(MappedSegmentFiles(dir.Path) <= 2);
        await AssertEverythingReadsBackAsync(store);
    }
}
