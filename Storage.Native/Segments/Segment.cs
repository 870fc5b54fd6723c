using System.Buffers.Binary;
using System.Diagnostics.CodeAnalysis;
using System.Runtime.CompilerServices;
using Pyralog.Storage.Native.Devices;
using Pyralog.Storage.Native.Hashing;

namespace Pyralog.Storage.Native.Segments;

/// <summary>
/// A live segment, read through a memory mapping. Open verifies the footer, index, bloom filter and meta block
/// checksums; data blocks are verified on each uncached read. Index and bloom are searched in place in the
/// mapping, so a segment costs the heap only its min/max keys; the pages under them may be dropped and read again,
/// or the file written, after that verification. So every mapping made again after the budget unmapped it is
/// verified before a read uses it, one that stays mapped again every <see cref="PinsPerVerification"/> pins, and
/// every value read from the index is range-checked and its block's first key compared with the index's: damage
/// fails as <see cref="PyramidCorruptionException"/>, not as an older version found in a deeper level.
/// The mapping comes and goes under the store's <see cref="SegmentMapBudget"/>: every read pins the current one
/// (<see cref="Pin"/>), mapping the file again if the budget unmapped it. Reference counted: the file is deleted,
/// once compaction retired it, when the last version or reader holding the segment lets go.
/// </summary>
internal sealed unsafe class Segment
{
    /// <summary>Bytes of the tail (index, bloom filter, meta block) verified again per pin of a mapping that stays
    /// mapped: the CRC of 64 bytes per read, paid in one verification every <see cref="PinsPerVerification"/> pins
    /// (a 64 MiB segment of 100-byte records: 1.2 MiB, every ~19,700 reads).</summary>
    private const int VerifiedBytesPerPin = 64;

    private readonly Lock _mapLock = new();
    private readonly SegmentMapBudget _budget;
    private readonly LinkedListNode<Segment> _ringNode;
    private readonly long _length;
    private readonly SegmentFooter _footer;
    private readonly int _indexCount;
    private readonly int _bloomHashes;
    private readonly uint _bloomBits;
    private readonly ulong _bloomMultiplier; // BloomFilter.ModMultiplier(_bloomBits); 0 for a filter of no bits
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
        BlockCache cache, SegmentMapBudget budget, SegmentFooter footer, SegmentTail tail)
    {
        _device = device;
        Path = path;
        Metadata = metadata;
        _mapping = mapping;
        _length = length;
        _budget = budget;
        _cache = cache;
        _footer = footer;
        _indexCount = tail.IndexCount;
        _bloomHashes = tail.BloomHashes;
        _bloomBits = tail.BloomBits;
        _bloomMultiplier = _bloomBits == 0 ? 0 : BloomFilter.ModMultiplier(_bloomBits);
        PinsPerVerification = (int)Math.Clamp(footer.VerifiedBytes / VerifiedBytesPerPin, 1, int.MaxValue);
        _ringNode = budget.Register(this);
    }

    public string Path { get; }

    public SegmentMetadata Metadata { get; }

    public long FileNumber => Metadata.FileNumber;

    public int BlockCount => _indexCount;

    /// <summary>A mapping that stays mapped has its index, bloom filter and meta block verified again at every this
    /// many pins (one per <see cref="VerifiedBytesPerPin"/> bytes of them, at least 1).</summary>
    public int PinsPerVerification { get; }

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
            var footer = ReadFooter(path, pointer, length, header: true);
            if (footer.Version > SegmentFormat.Version)
            {
                throw new NotSupportedException(
                    $"'{path}' has segment format version {footer.Version}; this build reads up to {SegmentFormat.Version}. Open the store with a newer Pyralog.");
            }

            var tail = VerifyTail(path, pointer, length, footer);
            var meta = new ReadOnlySpan<byte>(pointer + footer.MetaPosition, footer.MetaBytes - 4);
            if (meta.Length < 32)
            {
                throw new PyramidCorruptionException(path, footer.MetaPosition, "meta block shorter than its counts and key lengths");
            }

            var entries = BinaryPrimitives.ReadInt64LittleEndian(meta);
            var tombstones = BinaryPrimitives.ReadInt64LittleEndian(meta[8..]);
            var logRecords = BinaryPrimitives.ReadInt64LittleEndian(meta[16..]);
            var minLength = BinaryPrimitives.ReadInt32LittleEndian(meta[24..]);
            if (minLength < 0 || minLength > meta.Length - 32)
            {
                throw new PyramidCorruptionException(path, footer.MetaPosition + 24, $"meta block's min key length {minLength} runs past it");
            }

            var minKey = meta.Slice(28, minLength).ToArray();
            var maxLength = BinaryPrimitives.ReadInt32LittleEndian(meta[(28 + minLength)..]);
            if (maxLength < 0 || maxLength > meta.Length - 32 - minLength)
            {
                throw new PyramidCorruptionException(path, footer.MetaPosition + 28 + minLength, $"meta block's max key length {maxLength} runs past it");
            }

            var maxKey = meta.Slice(32 + minLength, maxLength).ToArray();
            var metadata = new SegmentMetadata(expected.FileNumber, length, minKey, maxKey, entries, tombstones, logRecords);
            var segment = new Segment(device, path, metadata, mapping, length, cache, budget, footer, tail);
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
        else if (mapping.CountPin(PinsPerVerification))
        {
            VerifyAgain(mapping);
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

    /// <summary>The segment's mapping, mapped again if it has none, with a reference taken for the caller. A new
    /// mapping is verified before anyone reads through it: its pages may come from the disk again, or the file may
    /// have been written since the open verified it.</summary>
    private SegmentMapping Remap()
    {
        lock (_mapLock)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            if (_mapping is { } current && current.TryAddReference())
            {
                return current; // another reader mapped it meanwhile
            }
        }

        var length = _device.GetLength(Path);
        if (length != _length)
        {
            // Mapped at its new length, reading up to the old one would fault past the end of the file.
            throw new PyramidCorruptionException(Path, Math.Min(length, _length),
                $"segment is {length} bytes, not the {_length} it had when the store opened it (truncated or overwritten)");
        }

        // Mapped and verified outside _mapLock: the budget's eviction takes it under the budget's lock, and must not
        // wait for a large tail's CRC while every other remap waits for that lock.
        var mapping = SegmentMapping.Map(_device, Path, _length, _budget);
        try
        {
            Verify(mapping);
        }
        catch
        {
            mapping.Release();
            throw;
        }

        SegmentMapping? installed = null;
        var disposed = false;
        lock (_mapLock)
        {
            if (_disposed)
            {
                disposed = true;
            }
            else if (_mapping is { } current && current.TryAddReference())
            {
                installed = current; // another reader mapped it meanwhile
            }
            else
            {
                mapping.TryAddReference(); // the caller's, before the budget can see the mapping
                _mapping = mapping;
            }
        }

        if (disposed || installed is not null)
        {
            mapping.Release();
            ObjectDisposedException.ThrowIf(disposed, this);
            return installed!;
        }

        _budget.OnOwned(remap: true); // outside _mapLock: it may unmap other segments, under the budget's lock
        return mapping;
    }

    /// <summary>Verifies again a mapping the caller pinned (its reference taken); on damage lets go of it and of the
    /// segment's own reference, so every later read maps the file again and verifies it, and fails as this one did.</summary>
    private void VerifyAgain(SegmentMapping mapping)
    {
        try
        {
            Verify(mapping);
        }
        catch (PyramidCorruptionException)
        {
            mapping.Release();
            SegmentMapping? owned = null;
            lock (_mapLock)
            {
                if (ReferenceEquals(_mapping, mapping))
                {
                    owned = mapping;
                    _mapping = null;
                }
            }

            if (owned is not null)
            {
                _budget.OnDisowned();
                owned.Release();
            }

            throw;
        }
    }

    /// <summary>Checks <paramref name="mapping"/>'s footer, index, bloom filter and meta block as the open did, and that
    /// they are still the ones it found.</summary>
    private void Verify(SegmentMapping mapping)
    {
        // Not the header: no read uses it, and touching its page would cost every remap one more page fault.
        var footer = ReadFooter(Path, mapping.Base, _length, header: false);
        if (footer != _footer)
        {
            throw new PyramidCorruptionException(Path, _length - SegmentFormat.FooterBytes,
                "segment footer changed since the store opened it (the file was overwritten)");
        }

        var tail = VerifyTail(Path, mapping.Base, _length, footer);
        if (tail.IndexCount != _indexCount || tail.BloomHashes != _bloomHashes || tail.BloomBits != _bloomBits)
        {
            throw new PyramidCorruptionException(Path, footer.IndexPosition,
                "segment index or bloom filter changed since the store opened it (the file was overwritten)");
        }
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
            // The key is at least the segment's min key, which is the first block's first key.
            throw new PyramidCorruptionException(Path, _footer.IndexPosition, "index's first key is above the segment's min key");
        }

        var firstKey = IndexEntry(mapping, blockIndex, out var blockPosition, out var blockLength);
        var block = CachedOrVerifiedBlock(mapping, blockPosition, blockLength, useCache: true);
        var at = 0;
        while (at < block.Length)
        {
            var n = SegmentFormat.ReadEntry(block[at..], out var entryKind, out var entryKey, out var entryValue);
            if (n == 0)
            {
                throw new PyramidCorruptionException(Path, blockPosition + at, "malformed entry in a block whose checksum matched");
            }

            if (at == 0 && !entryKey.SequenceEqual(firstKey))
            {
                ThrowBlockMismatch(blockIndex, blockPosition); // see ReadBlock
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

    private bool BloomMayContain(SegmentMapping mapping, ulong hash) => BloomFilter.MayContain(
        mapping.Bytes(_footer.BloomPosition + BloomFilter.HeaderBytes, _footer.BloomBytes - 4 - BloomFilter.HeaderBytes), _bloomHashes, _bloomBits, _bloomMultiplier, hash);

    /// <summary>Index of the last block whose first key is ≤ <paramref name="key"/>, or -1.</summary>
    public int FindBlock(SegmentMapping mapping, ReadOnlySpan<byte> key)
    {
        var index = Index(mapping);
        int low = 0, high = _indexCount - 1, found = -1;
        while (low <= high)
        {
            var mid = (int)((uint)(low + high) >> 1);
            if (IndexKey(index, mid, out _).SequenceCompareTo(key) <= 0)
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
        var firstKey = IndexEntry(mapping, blockIndex, out blockPosition, out var blockLength);
        var block = CachedOrVerifiedBlock(mapping, blockPosition, blockLength, useCache);

        // The index is read in place, verified only now and then: a position damaged since that lands on another whole
        // block passes that block's CRC (or hits its cached copy), and a damaged first key steers searches astray.
        if (SegmentFormat.ReadEntry(block, out _, out var key, out _) == 0 || !key.SequenceEqual(firstKey))
        {
            ThrowBlockMismatch(blockIndex, blockPosition);
        }

        return block;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    [DoesNotReturn]
    private void ThrowBlockMismatch(int blockIndex, long blockPosition) =>
        throw new PyramidCorruptionException(Path, blockPosition, $"block {blockIndex} does not begin with the first key its index entry names");

    private ReadOnlySpan<byte> CachedOrVerifiedBlock(SegmentMapping mapping, long blockPosition, int blockLength, bool useCache)
    {
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

    /// <summary>The footer checks (magic, CRC; with <paramref name="header"/> the header's magic and its agreeing with
    /// the footer) and what the footer records; the regions it names are checked by <see cref="VerifyTail"/>.</summary>
    private static SegmentFooter ReadFooter(string path, byte* pointer, long length, bool header)
    {
        if (length < SegmentFormat.HeaderBytes + SegmentFormat.FooterBytes)
        {
            throw new PyramidCorruptionException(path, 0, "segment shorter than header and footer");
        }

        var file = new ReadOnlySpan<byte>(pointer, SegmentFormat.HeaderBytes);
        if (header && BinaryPrimitives.ReadUInt32LittleEndian(file) != SegmentFormat.Magic)
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
        if (header && (BinaryPrimitives.ReadUInt16LittleEndian(file[4..]) != version || BinaryPrimitives.ReadUInt16LittleEndian(file[6..]) != 0))
        {
            throw new PyramidCorruptionException(path, 4, "segment header disagrees with its footer");
        }

        return new SegmentFooter(version,
            BinaryPrimitives.ReadInt64LittleEndian(footer), BinaryPrimitives.ReadInt32LittleEndian(footer[8..]),
            BinaryPrimitives.ReadInt64LittleEndian(footer[12..]), BinaryPrimitives.ReadInt32LittleEndian(footer[20..]),
            BinaryPrimitives.ReadInt64LittleEndian(footer[24..]), BinaryPrimitives.ReadInt32LittleEndian(footer[32..]));
    }

    /// <summary>Verifies the meta block's, index's and bloom filter's CRCs and the counts reads rely on (the index's
    /// entry count fits it, the bloom filter's bit count fits its bytes).</summary>
    private static SegmentTail VerifyTail(string path, byte* pointer, long length, SegmentFooter footer)
    {
        _ = Verified(path, pointer, length, footer.MetaPosition, footer.MetaBytes, "meta block");
        var index = Verified(path, pointer, length, footer.IndexPosition, footer.IndexBytes, "index block");
        var bloom = Verified(path, pointer, length, footer.BloomPosition, footer.BloomBytes, "bloom filter");
        var indexCount = index.Length >= 4 ? BinaryPrimitives.ReadInt32LittleEndian(index) : 0;
        if (indexCount < 1 || indexCount > (index.Length - 4) / 20) // each entry: its position and at least 16 bytes
        {
            throw new PyramidCorruptionException(path, footer.IndexPosition, $"index's block count {indexCount} does not fit the index");
        }

        if (!BloomFilter.TryReadHeader(bloom, out var hashes, out var bits))
        {
            throw new PyramidCorruptionException(path, footer.BloomPosition, "bloom filter's bit count does not fit it");
        }

        return new SegmentTail(indexCount, hashes, bits);
    }

    private static ReadOnlySpan<byte> Verified(string path, byte* pointer, long fileLength, long position, int length, string what)
    {
        // Subtracting, not adding: a position near long.MaxValue must not wrap around and pass.
        if (position < SegmentFormat.HeaderBytes || length < 4 || position > fileLength - SegmentFormat.FooterBytes - length)
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

    /// <summary>A block's bytes checked against their CRC; <see cref="IndexEntry"/> range-checked where it lies.</summary>
    private ReadOnlySpan<byte> VerifiedBlock(SegmentMapping mapping, long position, int length)
    {
        var span = mapping.Bytes(position, length);
        if (Crc32C.Compute(span[..^4]) != SegmentFormat.ReadCrc(span[^4..]))
        {
            throw new PyramidCorruptionException(Path, position, "data block checksum mismatch");
        }

        return span[..^4];
    }

    /// <summary>The index's entries (without its CRC) in <paramref name="mapping"/>.</summary>
    private ReadOnlySpan<byte> Index(SegmentMapping mapping) => mapping.Bytes(_footer.IndexPosition, _footer.IndexBytes - 4);

    /// <summary>Index entry <paramref name="i"/>'s first key, and where the entry starts in the index. The index is read
    /// from the mapping, which may have changed since it was verified: the entry's position and its key's length are
    /// checked to lie in the index before they are used (the open checked that the count leaves room for the entries).</summary>
    private ReadOnlySpan<byte> IndexKey(ReadOnlySpan<byte> index, int i, out int at)
    {
        var slot = 4 + (4 * i);
        at = BinaryPrimitives.ReadInt32LittleEndian(index[slot..]);
        var entriesStart = 4 + (4 * _indexCount);
        if ((uint)(at - entriesStart) > (uint)(index.Length - 16 - entriesStart))
        {
            ThrowIndexDamage(slot, i, "entry position", at, "lies outside the index's entries");
        }

        var keyLength = BinaryPrimitives.ReadInt32LittleEndian(index[(at + 12)..]);
        if ((uint)keyLength > (uint)(index.Length - 16 - at))
        {
            ThrowIndexDamage(at + 12, i, "first key length", keyLength, "runs past the index");
        }

        return index.Slice(at + 16, keyLength);
    }

    /// <summary>Index entry <paramref name="i"/>: its first key and its block's position and length, checked to lie in
    /// the data blocks (see <see cref="IndexKey"/>).</summary>
    private ReadOnlySpan<byte> IndexEntry(SegmentMapping mapping, int i, out long blockPosition, out int blockLength)
    {
        var index = Index(mapping);
        var firstKey = IndexKey(index, i, out var at);
        blockPosition = BinaryPrimitives.ReadInt64LittleEndian(index[at..]);
        blockLength = BinaryPrimitives.ReadInt32LittleEndian(index[(at + 8)..]);

        // Subtracting, not adding: a position near long.MaxValue must not wrap around and pass.
        if (blockLength < 4 || blockPosition < SegmentFormat.HeaderBytes || blockPosition > _footer.IndexPosition - blockLength)
        {
            ThrowIndexDamage(at, i, "block at", blockPosition, $"of {blockLength} bytes lies outside the data blocks");
        }

        return firstKey;
    }

    // Not inlined into the lookups: building the message would weigh on every probe of the index.
    [MethodImpl(MethodImplOptions.NoInlining)]
    [DoesNotReturn]
    private void ThrowIndexDamage(int at, int i, string what, long value, string problem) =>
        throw new PyramidCorruptionException(Path, _footer.IndexPosition + at, $"index entry {i}: {what} {value} {problem}");
}
