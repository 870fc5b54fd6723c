using System.Buffers.Binary;
using Pyralog.Storage.Native.Devices;
using Pyralog.Storage.Native.Segments;

namespace Pyralog.Storage.Native.Tests.Segments;

/// <summary>
/// A segment's index and bloom filter are read in place in its mapping, verified at open. Damage that reaches them
/// later (pages read again from the disk, the file written) is reported as <see cref="PyramidCorruptionException"/>
/// naming the segment: a mapping made again is verified before it is read, one that stays mapped at its next
/// verification, and a value read from the index that points outside it or at the wrong block at once, never as an
/// out-of-range error.
/// </summary>
public sealed class SegmentTailDamageTests
{
    private const int Keys = 2_000;
    private const int BlockBytes = 512;

    [Theory]
    [InlineData("entry position")]
    [InlineData("first key length")]
    [InlineData("block position")]
    [InlineData("another block")]
    public void A_value_damaged_in_the_index_of_a_mapped_segment_fails_the_read_naming_the_segment(string damage)
    {
        using var dir = new TempDirectory();
        var (segment, path, budget) = Open(dir.Path, mappedLimit: 2);
        var pins = new SegmentPins();
        try
        {
            Assert.True(segment.PinsPerVerification > 1); // the read below comes before the mapping's next verification
            var block = segment.BlockCount / 2;
            var key = SegmentFileDamage.IndexFirstKey(path, block);
            var entry = SegmentFileDamage.IndexEntryPosition(path, block);
            string expected;
            switch (damage)
            {
                case "entry position":
                    WriteInt32(path, SegmentFileDamage.IndexPosition(path) + 4 + (4 * block), 0x7FFF_0000);
                    expected = $"index entry {block}: entry position {0x7FFF_0000} lies outside";
                    break;
                case "first key length":
                    WriteInt32(path, entry + 12, 0x7FFF_FFF0);
                    expected = $"index entry {block}: first key length {0x7FFF_FFF0} runs past the index";
                    break;
                case "block position":
                    // Added to the block's length, it would wrap around below the index and pass a bounds check.
                    var wrapping = new byte[8];
                    BinaryPrimitives.WriteInt64LittleEndian(wrapping, long.MaxValue - 8);
                    SegmentFileDamage.Overwrite(path, entry, wrapping);
                    expected = $"index entry {block}: block at {long.MaxValue - 8} of";
                    break;
                default:
                    // The next block's position and length: a whole block whose CRC matches, holding other keys.
                    var next = SegmentFileDamage.Read(path, SegmentFileDamage.IndexEntryPosition(path, block + 1), 12);
                    SegmentFileDamage.Overwrite(path, entry, next);
                    expected = $"block {block} does not begin with the first key its index entry names";
                    break;
            }

            var error = Assert.Throws<PyramidCorruptionException>(() => segment.TryGet(pins, key, BloomFilter.Hash(key), out _, out _));
            Assert.Equal(path, error.FilePath);
            Assert.Contains(expected, error.Message);
            Assert.InRange(error.Position, 0, new FileInfo(path).Length);
        }
        finally
        {
            pins.Release();
            segment.Release();
        }

        Assert.Equal(0, budget.Mapped);
    }

    [Theory]
    [InlineData("bloom filter")]
    [InlineData("index block")]
    public void Damage_to_the_index_or_bloom_filter_of_a_segment_that_stays_mapped_is_caught_at_its_next_verification(string region)
    {
        using var dir = new TempDirectory();
        var (segment, path, budget) = Open(dir.Path, mappedLimit: 2);
        var pins = new SegmentPins();
        try
        {
            var every = segment.PinsPerVerification;
            Assert.True(every > 2, $"{every} pins per verification");
            var block = segment.BlockCount / 2;
            var key = SegmentFileDamage.IndexFirstKey(path, block);
            var hash = BloomFilter.Hash(key);
            Assert.True(segment.TryGet(pins, key, hash, out _, out var value)); // pin 1
            Assert.Equal(key, value.ToArray());

            if (region == "bloom filter")
            {
                SegmentFileDamage.ClearBloomBits(path);
            }
            else
            {
                // One more than the block's first key, still below the next block's: the search ends a block early.
                var damaged = Key(BinaryPrimitives.ReadInt64BigEndian(key) + 1);
                SegmentFileDamage.Overwrite(path, SegmentFileDamage.IndexEntryPosition(path, block) + 16, damaged);
            }

            // Reads up to the mapping's next verification still use it; the one that verifies it fails.
            var caughtAt = 0;
            for (var pin = 2; pin <= every && caughtAt == 0; pin++)
            {
                try
                {
                    segment.TryGet(pins, key, hash, out _, out _);
                }
                catch (PyramidCorruptionException error)
                {
                    caughtAt = pin;
                    Assert.Equal(path, error.FilePath);
                    Assert.Contains($"{region} checksum mismatch", error.Message);
                }
            }

            Assert.Equal(every, caughtAt);

            // The failed mapping is dropped: every later read maps the file again, verifies it and fails as well.
            var again = Assert.Throws<PyramidCorruptionException>(() => segment.TryGet(pins, key, hash, out _, out _));
            Assert.Contains($"{region} checksum mismatch", again.Message);
            Assert.Equal(0, budget.Remaps);
        }
        finally
        {
            pins.Release();
            segment.Release();
        }

        Assert.Equal(0, budget.Mapped);
    }

    /// <summary>A segment cut short, or its bloom filter damaged, while the mapping limit had it unmapped: the read that
    /// maps it again fails naming it (the cut one instead of mapping past its end), and the damaged mapping never
    /// becomes the segment's.</summary>
    [Theory]
    [InlineData("cut short")]
    [InlineData("bloom filter")]
    public void A_segment_damaged_while_unmapped_fails_the_read_that_maps_it_again(string damage)
    {
        using var dir = new TempDirectory();
        var (first, path, budget) = Open(dir.Path, mappedLimit: 1);
        var second = Segment.Open(FileSystemDevice.Instance, dir.Path, Write(dir.Path, 2), new BlockCache(0), budget);
        var pins = new SegmentPins();
        try
        {
            Assert.Equal(1, budget.Mapped); // opening the second unmapped the first
            var length = new FileInfo(path).Length;
            string expected;
            if (damage == "cut short")
            {
                using var file = new FileStream(path, FileMode.Open, FileAccess.Write, FileShare.ReadWrite);
                file.SetLength(length / 2);
                expected = $"segment is {length / 2} bytes, not the {length} it had when the store opened it";
            }
            else
            {
                SegmentFileDamage.ClearBloomBits(path);
                expected = "bloom filter checksum mismatch";
            }

            var key = Key(7);
            var error = Assert.Throws<PyramidCorruptionException>(() => first.TryGet(pins, key, BloomFilter.Hash(key), out _, out _));
            Assert.Equal(path, error.FilePath);
            Assert.Contains(expected, error.Message);
            Assert.Equal(0, budget.Remaps); // the damaged mapping never became the segment's
            Assert.Equal(1, budget.Mapped);
        }
        finally
        {
            pins.Release();
            first.Release();
            second.Release();
        }

        Assert.Equal(0, budget.Mapped);
    }

    private static (Segment Segment, string Path, SegmentMapBudget Budget) Open(string directory, int mappedLimit)
    {
        var budget = new SegmentMapBudget(mappedLimit);
        var metadata = Write(directory, 1);
        var segment = Segment.Open(FileSystemDevice.Instance, directory, metadata, new BlockCache(0), budget);
        return (segment, segment.Path, budget);
    }

    private static SegmentMetadata Write(string directory, long fileNumber)
    {
        using var writer = new SegmentWriter(FileSystemDevice.Instance, directory, fileNumber, BlockBytes, 10, null, new SegmentWriterBuffers());
        for (var i = 0; i < Keys; i++)
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

    private static void WriteInt32(string path, long position, int value)
    {
        var bytes = new byte[4];
        BinaryPrimitives.WriteInt32LittleEndian(bytes, value);
        SegmentFileDamage.Overwrite(path, position, bytes);
    }
}
