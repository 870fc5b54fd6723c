using System.Buffers.Binary;
using Pyralog.Storage.Native.Devices;
using Pyralog.Storage.Native.Hashing;

namespace Pyralog.Storage.Native.Segments;

/// <summary>
/// A live segment, read through a memory mapping. Open verifies the footer, index, bloom filter and meta block
/// checksums; data blocks are verified on each uncached read. Index and bloom are searched in place in the
/// mapping, so a segment costs the heap only its min/max keys. The mapping comes and goes under the store's
/// <see cref="SegmentMapBudget"/>: every read pins the current one (<see cref="Pin"/>), mapping the file again
/// if the budget unmapped it. Reference counted: the file is deleted, once compaction retired it, when the
/// last version or reader holding the segment lets go.
/// </summary>
internal sealed unsafe class Segment
{
    private readonly Lock _mapLock = new();
    private readonly SegmentMapBudget _budget;
    private readonly LinkedListNode<Segment> _ringNode;
    private readonly long _length;
    private readonly long _indexPosition;
    private readonly int _indexCount;
    private readonly long _bloomPosition;
    private readonly int _bloomLength;
    private readonly BlockCache _cache;
    private readonly IStorageDevice _device;
    private int _references = 1;
    private volatile bool _obsolete;

    // Invariant: the segment's current mapping, or null (evicted, or the segment disposed); set and cleared under
    // _mapLock. A set one holds a reference of the segment's own and is counted among the budget's owned mappings.
    private SegmentMapping? _mapping;

    // Invariant: written under _mapLock; once true, _mapping stays null.
    private bool _disposed;

    private Segment(IStorageDevice device, string path, SegmentMetadata metadata, SegmentMapping mapping, long length,
        BlockCache cache, SegmentMapBudget budget, long indexPosition, int indexCount, long bloomPosition, int bloomLength)
    {
        _device = device;
        Path = path;
        Metadata = metadata;
        _mapping = mapping;
        _length = length;
        _budget = budget;
        _cache = cache;
        _indexPosition = indexPosition;
        _indexCount = indexCount;
        _bloomPosition = bloomPosition;
        _bloomLength = bloomLength;
        _ringNode = budget.Register(this);
    }

    public string Path { get; }

    public SegmentMetadata Metadata { get; }

    public long FileNumber => Metadata.FileNumber;

    public int BlockCount => _indexCount;

    /// <summary>Set by every pin; the budget's hand clears it once before it unmaps the segment.</summary>
    internal volatile bool RecentlyPinned;

    public static Segment Open(IStorageDevice device, string directory, SegmentMetadata expected, BlockCache cache, SegmentMapBudget budget)
    {
        var path = System.IO.Path.Combine(directory, SegmentFormat.FileName(expected.FileNumber));
        if (!device.Exists(path))
        {
            throw new PyramidCorruptionException(path, 0, "segment named by the manifest is missing");
        }

        var length = device.GetLength(path);
        if (length != expected.SizeBytes)
        {
            throw new PyramidCorruptionException(path, Math.Min(length, expected.SizeBytes),
                $"segment is {length} bytes but the manifest recorded {expected.SizeBytes} (truncated or overwritten)");
        }

        SegmentMapping? mapping = SegmentMapping.Map(device, path, length, budget);
        try
        {
            var pointer = mapping.Base;
            var file = new ReadOnlySpan<byte>(pointer, (int)Math.Min(length, int.MaxValue));
            if (length < SegmentFormat.HeaderBytes + SegmentFormat.FooterBytes)
            {
                throw new PyramidCorruptionException(path, 0, "segment shorter than header and footer");
            }

            if (BinaryPrimitives.ReadUInt32LittleEndian(file) != SegmentFormat.Magic)
            {
                throw new PyramidCorruptionException(path, 0, "bad segment magic");
            }

            var footerAt = length - SegmentFormat.FooterBytes;
            var footer = new ReadOnlySpan<byte>(pointer + footerAt, SegmentFormat.FooterBytes);
            if (BinaryPrimitives.ReadUInt32LittleEndian(footer[44..]) != SegmentFormat.Magic
                || BinaryPrimitives.ReadUInt32LittleEndian(footer[40..]) != Crc32C.Compute(footer[..40]))
            {
                throw new PyramidCorruptionException(path, footerAt, "segment footer checksum or magic mismatch");
            }

            // The header is outside every CRC; it must agree with the checksummed footer.
            var version = BinaryPrimitives.ReadUInt16LittleEndian(footer[36..]);
            if (BinaryPrimitives.ReadUInt16LittleEndian(file[4..]) != version || BinaryPrimitives.ReadUInt16LittleEndian(file[6..]) != 0)
            {
                throw new PyramidCorruptionException(path, 4, "segment header disagrees with its footer");
            }

            if (version > SegmentFormat.Version)
            {
                throw new NotSupportedException(
                    $"'{path}' has segment format version {version}; this build reads up to {SegmentFormat.Version}. Open the store with a newer Pyralog.");
            }

            var metaAt = BinaryPrimitives.ReadInt64LittleEndian(footer);
            var metaLength = BinaryPrimitives.ReadInt32LittleEndian(footer[8..]);
            var indexAt = BinaryPrimitives.ReadInt64LittleEndian(footer[12..]);
            var indexLength = BinaryPrimitives.ReadInt32LittleEndian(footer[20..]);
            var bloomAt = BinaryPrimitives.ReadInt64LittleEndian(footer[24..]);
            var bloomLength = BinaryPrimitives.ReadInt32LittleEndian(footer[32..]);
            var meta = Verified(path, pointer, length, metaAt, metaLength, "meta block");
            var index = Verified(path, pointer, length, indexAt, indexLength, "index block");
            _ = Verified(path, pointer, length, bloomAt, bloomLength, "bloom filter");

            var entries = BinaryPrimitives.ReadInt64LittleEndian(meta);
            var tombstones = BinaryPrimitives.ReadInt64LittleEndian(meta[8..]);
            var logRecords = BinaryPrimitives.ReadInt64LittleEndian(meta[16..]);
            var minLength = BinaryPrimitives.ReadInt32LittleEndian(meta[24..]);
            var minKey = meta.Slice(28, minLength).ToArray();
            var maxLength = BinaryPrimitives.ReadInt32LittleEndian(meta[(28 + minLength)..]);
            var maxKey = meta.Slice(32 + minLength, maxLength).ToArray();
            var metadata = new SegmentMetadata(expected.FileNumber, length, minKey, maxKey, entries, tombstones, logRecords);
            var indexCount = BinaryPrimitives.ReadInt32LittleEndian(index);
            var segment = new Segment(device, path, metadata, mapping, length, cache, budget, indexAt, indexCount, bloomAt, bloomLength - 4);
            mapping = null; // the segment owns it now
            budget.OnOwned(remap: false);
            return segment;
        }
        catch
        {
            mapping?.Release();
            throw;
        }
    }

    /// <summary>The segment's mapping, held for <paramref name="pins"/> until it lets go; maps the file again if the
    /// budget unmapped it. The caller holds a reference to the segment.</summary>
    public SegmentMapping Pin(SegmentPins pins)
    {
        if (!RecentlyPinned)
        {
            RecentlyPinned = true; // only when unset: hot segments' readers on several cores do not keep writing its line
        }

        var mapping = Volatile.Read(ref _mapping);
        if (mapping is null || !mapping.TryAddReference())
        {
            // Unmapped, or unmapped between the read and the reference: map again (the result carries the pin's reference).
            mapping = Remap();
        }

        pins.Add(mapping);
        return mapping;
    }

    /// <summary>Drops the segment's own reference to its mapping, for the budget; readers' pins keep it mapped until they go.</summary>
    internal void Unmap()
    {
        SegmentMapping? mapping;
        lock (_mapLock)
        {
            mapping = _mapping;
            _mapping = null;
        }

        if (mapping is not null)
        {
            _budget.OnDisowned();
            mapping.Release();
        }
    }

    /// <summary>The segment's mapping, mapped again if it has none, with a reference taken for the caller.</summary>
    private SegmentMapping Remap()
    {
        SegmentMapping mapping;
        lock (_mapLock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (_mapping is { } current && current.TryAddReference())
            {
                return current; // another reader mapped it meanwhile
            }

            mapping = SegmentMapping.Map(_device, Path, _length, _budget);
            mapping.TryAddReference(); // the caller's, before the budget can see the mapping
            _mapping = mapping;
        }

        _budget.OnOwned(remap: true); // outside _mapLock: it may unmap other segments, under the budget's lock
        return mapping;
    }

    public bool MayContain(ReadOnlySpan<byte> key) =>
        key.SequenceCompareTo(Metadata.MinKey) >= 0 && key.SequenceCompareTo(Metadata.MaxKey) <= 0;

    /// <summary>Whether the bloom filter lets <paramref name="hash"/> through (false: the key is certainly absent).</summary>
    public bool BloomMayContain(SegmentPins pins, ulong hash) => BloomMayContain(Pin(pins), hash);

    /// <summary>Looks <paramref name="key"/> up; a hit returns its kind and value (valid until <paramref name="pins"/> lets go).</summary>
    public bool TryGet(SegmentPins pins, ReadOnlySpan<byte> key, ulong hash, out byte kind, out ReadOnlySpan<byte> value)
    {
        kind = 0;
        value = default;
        if (!MayContain(key))
        {
            return false;
        }

        var mapping = Pin(pins);
        if (!BloomMayContain(mapping, hash))
        {
            return false;
        }

        var blockIndex = FindBlock(mapping, key);
        if (blockIndex < 0)
        {
            return false;
        }

        var block = ReadBlock(mapping, blockIndex, useCache: true, out var blockPosition);
        var at = 0;
        while (at < block.Length)
        {
            var n = SegmentFormat.ReadEntry(block[at..], out var entryKind, out var entryKey, out var entryValue);
            if (n == 0)
            {
                throw new PyramidCorruptionException(Path, blockPosition + at, "malformed entry in a block whose checksum matched");
            }

            var c = entryKey.SequenceCompareTo(key);
            if (c == 0)
            {
                kind = entryKind;
                value = entryValue;
                return true;
            }

            if (c > 0)
            {
                return false;
            }

            at += n;
        }

        return false;
    }

    private bool BloomMayContain(SegmentMapping mapping, ulong hash) => BloomFilter.MayContain(mapping.Bytes(_bloomPosition, _bloomLength), hash);

    /// <summary>Index of the last block whose first key is ≤ <paramref name="key"/>, or -1.</summary>
    public int FindBlock(SegmentMapping mapping, ReadOnlySpan<byte> key)
    {
        int low = 0, high = _indexCount - 1, found = -1;
        while (low <= high)
        {
            var mid = (int)((uint)(low + high) >> 1);
            if (IndexEntry(mapping, mid, out _, out _).SequenceCompareTo(key) <= 0)
            {
                found = mid;
                low = mid + 1;
            }
            else
            {
                high = mid - 1;
            }
        }

        return found;
    }

    /// <summary>The verified entries of block <paramref name="blockIndex"/> (without its CRC).</summary>
    public ReadOnlySpan<byte> ReadBlock(SegmentMapping mapping, int blockIndex, bool useCache, out long blockPosition)
    {
        IndexEntry(mapping, blockIndex, out blockPosition, out var blockLength);
        if (useCache && _cache.CapacityBytes > 0)
        {
            var cached = _cache.Get(FileNumber, blockPosition);
            if (cached is not null)
            {
                return cached;
            }

            var verified = VerifiedBlock(mapping, blockPosition, blockLength);
            if (!_cache.AdmitOnMiss(FileNumber, blockPosition))
            {
                return verified; // read once lately: from the mapping, no copy (see BlockCache)
            }

            var copy = verified.ToArray();
            _cache.Add(FileNumber, blockPosition, copy);
            return copy;
        }

        return VerifiedBlock(mapping, blockPosition, blockLength);
    }

    public void AddReference() => Interlocked.Increment(ref _references);

    /// <summary>Marks the segment retired by compaction: its file goes when the last reference does.</summary>
    public void MarkObsolete() => _obsolete = true;

    public void Release()
    {
        if (Interlocked.Decrement(ref _references) == 0)
        {
            Close();
            if (_obsolete)
            {
                _cache.Evict(FileNumber);
                try
                {
                    _device.Delete(Path);
                }
                catch (Exception e) when (e is IOException or UnauthorizedAccessException)
                {
                    // Left as an orphan, which the next open deletes: the reader, flush or compaction that let go of the
                    // last reference must not fail for it (it threw out of a cursor's Dispose, or faulted the store).
                }
            }
        }
    }

    private void Close()
    {
        SegmentMapping? mapping;
        lock (_mapLock)
        {
            _disposed = true;
            mapping = _mapping;
            _mapping = null;
        }

        if (mapping is not null)
        {
            _budget.OnDisowned();
            mapping.Release();
        }

        _budget.Unregister(_ringNode);
    }

    private static ReadOnlySpan<byte> Verified(string path, byte* pointer, long fileLength, long position, int length, string what)
    {
        if (position < SegmentFormat.HeaderBytes || length < 4 || position + length > fileLength - SegmentFormat.FooterBytes)
        {
            throw new PyramidCorruptionException(path, position, $"{what} lies outside the segment");
        }

        var span = new ReadOnlySpan<byte>(pointer + position, length);
        if (Crc32C.Compute(span[..^4]) != SegmentFormat.ReadCrc(span[^4..]))
        {
            throw new PyramidCorruptionException(path, position, $"{what} checksum mismatch");
        }

        return span[..^4];
    }

    private ReadOnlySpan<byte> VerifiedBlock(SegmentMapping mapping, long position, int length)
    {
        if (position < SegmentFormat.HeaderBytes || length < 4 || position + length > _indexPosition)
        {
            throw new PyramidCorruptionException(Path, position, "index points outside the data blocks");
        }

        var span = mapping.Bytes(position, length);
        if (Crc32C.Compute(span[..^4]) != SegmentFormat.ReadCrc(span[^4..]))
        {
            throw new PyramidCorruptionException(Path, position, "data block checksum mismatch");
        }

        return span[..^4];
    }

    private ReadOnlySpan<byte> IndexEntry(SegmentMapping mapping, int i, out long blockPosition, out int blockLength)
    {
        var index = mapping.Bytes(_indexPosition, (int)Math.Min(int.MaxValue, _length - _indexPosition));
        var at = BinaryPrimitives.ReadInt32LittleEndian(index[(4 + (4 * i))..]);
        var entry = index[at..];
        blockPosition = BinaryPrimitives.ReadInt64LittleEndian(entry);
        blockLength = BinaryPrimitives.ReadInt32LittleEndian(entry[8..]);
        var keyLength = BinaryPrimitives.ReadInt32LittleEndian(entry[12..]);
        return entry.Slice(16, keyLength);
    }
}
