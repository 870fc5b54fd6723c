using Pyralog.Storage.Native.Devices;
using Pyralog.Storage.Native.Keys;
using Pyralog.Storage.Native.Segments;

namespace Pyralog.Storage.Native.Tests.Segments;

/// <summary>
/// A segment of one log's records at consecutive offsets gets a filter that lets every key through (its key range tells
/// what it holds); any other segment keeps a real bloom filter, which turns most absent keys away.
/// </summary>
public class DenseLogSegmentTests
{
    [Fact]
    public void One_logs_consecutive_records_get_an_empty_filter_and_every_record_is_found()
    {
        using var dir = new TempDirectory();
        var segment = Open(dir.Path, Write(dir.Path, 1, Enumerable.Range(100, 3_000).Select(o => LogKey(7, (ulong)o))));
        var pins = new SegmentPins();
        try
        {
            Assert.True(segment.BloomMayContain(pins, BloomFilter.Hash(LogKey(7, 99_999)))); // no bits: everything passes
            for (ulong offset = 100; offset < 3_100; offset++)
            {
                var key = LogKey(7, offset);
                Assert.True(segment.TryGet(pins, key, BloomFilter.Hash(key), out _, out var value));
                Assert.Equal(key, value.ToArray());
            }

            foreach (var absent in new[] { LogKey(7, 99), LogKey(7, 3_100), LogKey(6, 500), LogKey(8, 500) })
            {
                Assert.False(segment.TryGet(pins, absent, BloomFilter.Hash(absent), out _, out _));
            }
        }
        finally
        {
            pins.Release();
            segment.Release();
        }
    }

    [Theory]
    [InlineData("a gap")]
    [InlineData("two logs")]
    [InlineData("user keys")]
    public void A_segment_whose_range_holds_absent_keys_keeps_a_bloom_filter(string shape)
    {
        using var dir = new TempDirectory();
        IEnumerable<byte[]> keys = shape switch
        {
            "a gap" => Enumerable.Range(0, 3_000).Select(o => LogKey(7, (ulong)(o < 1_500 ? o : o + 10_000))),
            "two logs" => Enumerable.Range(0, 1_500).Select(o => LogKey(7, (ulong)o)).Concat(Enumerable.Range(0, 1_500).Select(o => LogKey(9, (ulong)o))),
            _ => Enumerable.Range(0, 3_000).Select(i => new byte[] { KeyCodec.KvPrefix, (byte)(i >> 8), (byte)i }),
        };
        var written = keys.ToList();
        var segment = Open(dir.Path, Write(dir.Path, 1, written));
        var pins = new SegmentPins();
        try
        {
            // Every key is found: those added while the segment still looked like one log's consecutive records were
            // hashed into the filter when the first key that breaks that came.
            foreach (var key in written)
            {
                Assert.True(segment.TryGet(pins, key, BloomFilter.Hash(key), out _, out var value));
                Assert.Equal(key, value.ToArray());
            }

            // Keys inside the segment's range that it does not hold: the filter turns away all but its false positives.
            var absent = shape switch
            {
                "a gap" => Enumerable.Range(1_500, 3_000).Select(o => LogKey(7, (ulong)o)),
                "two logs" => Enumerable.Range(0, 3_000).Select(o => LogKey(8, (ulong)o)),
                _ => Enumerable.Range(0, 3_000).Select(i => new byte[] { KeyCodec.KvPrefix, (byte)(i >> 8), (byte)i, 1 }),
            };
            var passed = absent.Count(key => segment.BloomMayContain(pins, BloomFilter.Hash(key)));
            Assert.InRange(passed, 0, 150);
        }
        finally
        {
            pins.Release();
            segment.Release();
        }
    }

    private static SegmentMetadata Write(string directory, long fileNumber, IEnumerable<byte[]> keys)
    {
        using var writer = new SegmentWriter(FileSystemDevice.Instance, directory, fileNumber, 4_096, 10, null, new SegmentWriterBuffers());
        foreach (var key in keys)
        {
            writer.Add(SegmentFormat.KindPut, key, key);
        }

        return writer.Finish();
    }

    private static Segment Open(string directory, SegmentMetadata metadata) =>
        Segment.Open(FileSystemDevice.Instance, directory, metadata, new BlockCache(1 << 20), new SegmentMapBudget(1));

    private static byte[] LogKey(ulong log, ulong offset)
    {
        var key = new byte[KeyCodec.LogKeyLength];
        KeyCodec.WriteLogKey(key, log, offset);
        return key;
    }
}
