using System.Buffers.Binary;
using Pyralog.Storage.Native.Devices;
using Pyralog.Storage.Native.Segments;

namespace Pyralog.Storage.Native.Tests.Segments;

/// <summary>Segment writers that reuse one worker's buffers, one after another: nothing of a segment leaks into the next.</summary>
public class SegmentWriterBuffersTests
{
    private const int BlockBytes = 512;

    [Fact]
    public void A_smaller_segment_written_after_a_larger_one_holds_exactly_its_own_entries()
    {
        using var dir = new TempDirectory();
        var buffers = new SegmentWriterBuffers();
        var large = Write(dir.Path, 1, buffers, first: 0, count: 5_000); // grows the hashes past their first 1,024
        var small = Write(dir.Path, 2, buffers, first: 1_000_000, count: 37);
        Assert.True(buffers.Hashes.Length >= 5_000);

        var cache = new BlockCache(1 << 20);
        var budget = new SegmentMapBudget(2);
        var pins = new SegmentPins();
        var second = Segment.Open(FileSystemDevice.Instance, dir.Path, small, cache, budget);
        try
        {
            Assert.Equal(37, small.EntryCount);
            Assert.Equal(ReadAll(second), Enumerable.Range(1_000_000, 37).Select(i => (long)i).ToList());
            for (var i = 1_000_000; i < 1_000_037; i++)
            {
                Assert.True(second.TryGet(pins, Key(i), BloomFilter.Hash(Key(i)), out _, out var value));
                Assert.Equal(i, BinaryPrimitives.ReadInt64BigEndian(value));
            }

            // The large segment's keys are neither in the small one's index nor in its bloom filter beyond its false positives.
            var strays = Enumerable.Range(0, 5_000).Count(i => second.BloomMayContain(pins, BloomFilter.Hash(Key(i))));
            Assert.True(strays < 250, $"{strays} of the first segment's 5,000 keys pass the second one's bloom filter");
        }
        finally
        {
            pins.Release();
            second.Release();
        }

        var firstSegment = Segment.Open(FileSystemDevice.Instance, dir.Path, large, cache, budget);
        Assert.Equal(ReadAll(firstSegment), Enumerable.Range(0, 5_000).Select(i => (long)i).ToList());
        firstSegment.Release();
        Assert.Equal(0, budget.Mapped);
    }

    [Fact]
    public void Buffers_lent_to_an_unfinished_writer_are_refused_to_a_second_one_and_returned_when_it_is_disposed()
    {
        using var dir = new TempDirectory();
        var buffers = new SegmentWriterBuffers();
        var writer = new SegmentWriter(FileSystemDevice.Instance, dir.Path, 1, BlockBytes, 10, null, buffers);
        writer.Add(SegmentFormat.KindPut, Key(1), Key(1));
        var refused = Assert.Throws<InvalidOperationException>(() => new SegmentWriter(FileSystemDevice.Instance, dir.Path, 2, BlockBytes, 10, null, buffers));
        Assert.Contains("lent to another writer", refused.Message);
        writer.Dispose(); // unfinished: its file goes, the buffers come back

        var metadata = Write(dir.Path, 3, buffers, first: 7, count: 3);
        var segment = Segment.Open(FileSystemDevice.Instance, dir.Path, metadata, new BlockCache(1 << 20), new SegmentMapBudget(1));
        Assert.Equal([7L, 8L, 9L], ReadAll(segment));
        segment.Release();
        Assert.False(File.Exists(Path.Combine(dir.Path, SegmentFormat.FileName(1))));
    }

    private static SegmentMetadata Write(string directory, long fileNumber, SegmentWriterBuffers buffers, int first, int count)
    {
        using var writer = new SegmentWriter(FileSystemDevice.Instance, directory, fileNumber, BlockBytes, 10, null, buffers);
        for (var i = first; i < first + count; i++)
        {
            writer.Add(SegmentFormat.KindPut, Key(i), Key(i));
        }

        return writer.Finish();
    }

    private static byte[] Key(long i)
    {
        var key = new byte[8];
        BinaryPrimitives.WriteInt64BigEndian(key, i);
        return key;
    }

    private static List<long> ReadAll(Segment segment)
    {
        var keys = new List<long>();
        var pins = new SegmentPins();
        var iterator = new SegmentIterator(segment, pins);
        for (iterator.Seek([]); iterator.Valid; iterator.Next())
        {
            keys.Add(BinaryPrimitives.ReadInt64BigEndian(iterator.Key));
        }

        pins.Release();
        return keys;
    }
}
