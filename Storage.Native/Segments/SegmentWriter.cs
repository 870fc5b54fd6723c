using System.Buffers;
using System.Buffers.Binary;
using Pyralog.Storage.Native.Compaction;
using Pyralog.Storage.Native.Devices;
using Pyralog.Storage.Native.Hashing;

namespace Pyralog.Storage.Native.Segments;

/// <summary>Writes one segment (see <see cref="SegmentFormat"/>) from entries given in ascending key order.</summary>
internal sealed class SegmentWriter : IDisposable
{
    /// <summary>
    /// A segment goes to the disk in steps of this many bytes as it is written, each waiting for the one before, not all
    /// at its sync. Written whole and synced at the end, a flush's tens of MiB sat in the page cache and then went out in
    /// one burst: the segment's sync held the commit thread for 33–86 ms, and the WAL syncs behind it took 3–10 ms (the
    /// storage bench's <c>append-1024B-batch100</c>, a flush every ~0.2 s). In steps, the WAL's syncs share the disk with
    /// at most one step in flight (about half a millisecond of this machine's disk).
    /// </summary>
    internal const int WritebackBytes = 256 << 10;

    /// <summary>
    /// The writer's thread yields its CPU after each this many bytes of blocks (<see cref="Thread.Yield"/>, a
    /// <c>sched_yield</c>: it returns at once when nothing else waits). A flush or compaction runs for a fraction of a
    /// second on end, and Linux lets a thread that wakes preempt a running one only once that one's time slice ends
    /// (up to a few milliseconds): a commit group's writer woken meanwhile waited for its CPU that long.
    /// </summary>
    internal const int YieldEveryBytes = 256 << 10;

    private readonly string _path;
    private readonly long _fileNumber;
    private readonly int _blockBytes;
    private readonly int _bitsPerKey;
    private readonly RateLimiter? _limiter;
    private readonly IStorageDevice _device;
    private readonly BufferedFileWriter _file;
    private readonly SegmentWriterBuffers _buffers; // taken in the constructor, given back by Finish or Dispose
    private bool _buffersReleased;
    private byte[] _block;
    private int _blockLength;
    private byte[] _firstKeyOfBlock = [];
    private byte[] _lastKey = [];
    private byte[] _minKey = [];
    private long _entries;
    private int _sinceYield; // block bytes written since the thread last yielded its CPU
    private long _tombstones;
    private long _logRecords;
    // Invariant: true while every entry so far is a record of one log (_denseLog) at consecutive offsets, [_denseLogFirst,
    // _denseLogNext). Such a segment holds every key between its min and max key, which the key range already tells a
    // lookup, so it gets an empty bloom filter (one that lets every key through), and its keys are not hashed.
    private bool _denseLogRecords = true;
    private ulong _denseLog;
    private ulong _denseLogFirst;
    private ulong _denseLogNext;
    // Invariant: the bloom hashes of the first _hashCount entries are in _buffers.Hashes; _hashCount is _entries once
    // _denseLogRecords is false, 0 while it is true.
    private int _hashCount;
    private bool _finished;
    // Where the data blocks end and the index, bloom filter, meta block and footer begin; set by Finish.
    private long _dataBytes;

    /// <summary>Creates the segment's file; <paramref name="buffers"/> are lent to this writer until it is finished or disposed.</summary>
    public SegmentWriter(
        IStorageDevice device, string directory, long fileNumber, int blockBytes, int bitsPerKey, RateLimiter? limiter, SegmentWriterBuffers buffers)
    {
        buffers.Take();
        _buffers = buffers;
        _device = device;
        _fileNumber = fileNumber;
        _path = Path.Combine(directory, SegmentFormat.FileName(fileNumber));
        _blockBytes = blockBytes;
        _bitsPerKey = bitsPerKey;
        _limiter = limiter;
        _block = ArrayPool<byte>.Shared.Rent(blockBytes * 2);
        try
        {
            _file = new BufferedFileWriter(device.Open(_path, FileMode.CreateNew), WritebackBytes, WritebackBytes);
        }
        catch
        {
            ReturnBlock();
            ReturnBuffers();
            throw;
        }

        Span<byte> header = stackalloc byte[SegmentFormat.HeaderBytes];
        BinaryPrimitives.WriteUInt32LittleEndian(header, SegmentFormat.Magic);
        BinaryPrimitives.WriteUInt16LittleEndian(header[4..], SegmentFormat.Version);
        BinaryPrimitives.WriteUInt16LittleEndian(header[6..], 0);
        _file.Write(header);
    }

    /// <summary>The last key added.</summary>
    public ReadOnlySpan<byte> LastKey => _lastKey;

    /// <summary>Bytes written so far (approximate until <see cref="Finish"/>).</summary>
    public long Length => _file.Position + _blockLength;

    public void Add(byte kind, ReadOnlySpan<byte> key, ReadOnlySpan<byte> value)
    {
        // A key that continues one log's consecutive offsets is above the one before (big-endian offsets); any other is compared.
        var dense = _denseLogRecords && ContinuesDenseLog(kind, key);
        if (!dense && _entries > 0 && key.SequenceCompareTo(_lastKey) <= 0)
        {
            throw new InvalidOperationException("segment keys must be added in strictly ascending order");
        }

        var n = 1 + SegmentFormat.VarintBytes((uint)key.Length) + SegmentFormat.VarintBytes((uint)value.Length);
        var size = n + key.Length + value.Length;
        if (_blockLength > 0 && _blockLength + size > _blockBytes)
        {
            FinishBlock();
        }

        if (_blockLength + size + 4 > _block.Length)
        {
            var larger = ArrayPool<byte>.Shared.Rent(_blockLength + size + 4);
            _block.AsSpan(0, _blockLength).CopyTo(larger);
            ArrayPool<byte>.Shared.Return(_block);
            _block = larger;
        }

        if (_blockLength == 0)
        {
            _firstKeyOfBlock = key.ToArray();
        }

        var entry = _block.AsSpan(_blockLength, size);
        entry[0] = kind;
        var at = 1 + SegmentFormat.WriteVarint(entry[1..], (uint)key.Length);
        at += SegmentFormat.WriteVarint(entry[at..], (uint)value.Length);
        key.CopyTo(entry[at..]);
        value.CopyTo(entry[(at + key.Length)..]);
        _blockLength += size;

        if (!dense)
        {
            AddHash(key);
        }

        if (_entries == 0)
        {
            _minKey = key.ToArray();
        }

        _lastKey = _lastKey.Length == key.Length ? _lastKey : new byte[key.Length];
        key.CopyTo(_lastKey);
        _entries++;
        if (kind == SegmentFormat.KindDelete)
        {
            _tombstones++;
        }

        if (Keys.KeyCodec.IsLogKey(key))
        {
            _logRecords++;
        }
    }

    /// <summary>Whether the segment stays one log's records at consecutive offsets with <paramref name="key"/>. The first
    /// key that does not ends that for good: the keys added before it get their bloom hashes then (they are that log's
    /// offsets from the first one on), so a segment that stays so never hashes a key.</summary>
    private bool ContinuesDenseLog(byte kind, ReadOnlySpan<byte> key)
    {
        if (kind == SegmentFormat.KindPut && Keys.KeyCodec.IsLogKey(key))
        {
            var log = Keys.KeyCodec.ReadLogId(key);
            var offset = Keys.KeyCodec.ReadLogOffset(key);
            if (_entries == 0)
            {
                _denseLog = log;
                _denseLogFirst = offset;
                _denseLogNext = offset + 1;
                return true;
            }

            if (log == _denseLog && offset == _denseLogNext)
            {
                _denseLogNext++;
                return true;
            }
        }

        _denseLogRecords = false;
        Span<byte> earlier = stackalloc byte[Keys.KeyCodec.LogKeyLength];
        for (var offset = _denseLogFirst; offset < _denseLogNext; offset++)
        {
            Keys.KeyCodec.WriteLogKey(earlier, _denseLog, offset);
            AddHash(earlier);
        }

        return false;
    }

    private void AddHash(ReadOnlySpan<byte> key)
    {
        var hashes = _buffers.Hashes;
        if (_hashCount == hashes.Length)
        {
            hashes = _buffers.GrowHashes(_hashCount);
        }

        hashes[_hashCount++] = BloomFilter.Hash(key);
    }

    /// <summary>Completes and fsyncs the file; the caller then names it in the manifest.</summary>
    public SegmentMetadata Finish() => Finish(sync: true);

    /// <summary>Completes the file; without <paramref name="sync"/> the caller calls <see cref="Sync"/> before naming it in
    /// the manifest (a flush writing many segments syncs them after writing them all: the disk works on all at once).</summary>
    public SegmentMetadata Finish(bool sync)
    {
        if (_entries == 0)
        {
            throw new InvalidOperationException("a segment needs at least one entry");
        }

        FinishBlock();
        var indexPosition = _file.Position;
        _dataBytes = indexPosition;
        WriteIndex();
        var indexLength = (int)(_file.Position - indexPosition);

        var bloomPosition = _file.Position;
        var bloomBytes = _denseLogRecords ? BloomFilter.HeaderBytes : BloomFilter.EncodedBytes((int)_entries, _bitsPerKey);
        var bloom = ArrayPool<byte>.Shared.Rent(bloomBytes);
        try
        {
            if (_denseLogRecords)
            {
                BloomFilter.BuildPassingAll(bloom);
            }
            else
            {
                BloomFilter.Build(_buffers.Hashes.AsSpan(0, _hashCount), _bitsPerKey, bloom);
            }

            _file.Write(bloom.AsSpan(0, bloomBytes));
            WriteCrc(Crc32C.Compute(bloom.AsSpan(0, bloomBytes)));
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(bloom);
        }

        var bloomLength = (int)(_file.Position - bloomPosition);
        var metaPosition = _file.Position;
        var meta = new byte[24 + 4 + _minKey.Length + 4 + _lastKey.Length];
        BinaryPrimitives.WriteInt64LittleEndian(meta, _entries);
        BinaryPrimitives.WriteInt64LittleEndian(meta.AsSpan(8), _tombstones);
        BinaryPrimitives.WriteInt64LittleEndian(meta.AsSpan(16), _logRecords);
        BinaryPrimitives.WriteInt32LittleEndian(meta.AsSpan(24), _minKey.Length);
        _minKey.CopyTo(meta.AsSpan(28));
        BinaryPrimitives.WriteInt32LittleEndian(meta.AsSpan(28 + _minKey.Length), _lastKey.Length);
        _lastKey.CopyTo(meta.AsSpan(32 + _minKey.Length));
        _file.Write(meta);
        WriteCrc(Crc32C.Compute(meta));
        var metaLength = (int)(_file.Position - metaPosition);

        Span<byte> footer = stackalloc byte[SegmentFormat.FooterBytes];
        BinaryPrimitives.WriteInt64LittleEndian(footer, metaPosition);
        BinaryPrimitives.WriteInt32LittleEndian(footer[8..], metaLength);
        BinaryPrimitives.WriteInt64LittleEndian(footer[12..], indexPosition);
        BinaryPrimitives.WriteInt32LittleEndian(footer[20..], indexLength);
        BinaryPrimitives.WriteInt64LittleEndian(footer[24..], bloomPosition);
        BinaryPrimitives.WriteInt32LittleEndian(footer[32..], bloomLength);
        BinaryPrimitives.WriteUInt16LittleEndian(footer[36..], SegmentFormat.Version);
        BinaryPrimitives.WriteUInt16LittleEndian(footer[38..], 0);
        BinaryPrimitives.WriteUInt32LittleEndian(footer[40..], Crc32C.Compute(footer[..40]));
        BinaryPrimitives.WriteUInt32LittleEndian(footer[44..], SegmentFormat.Magic);
        _file.Write(footer);
        if (sync)
        {
            _file.FlushToDisk();
        }
        else
        {
            _file.FlushAndReleaseBuffer();
            ReturnBlock();
        }

        _finished = true;
        ReturnBuffers();
        return new SegmentMetadata(_fileNumber, _file.Position, _minKey, _lastKey.ToArray(), _entries, _tombstones, _logRecords);
    }

    /// <summary>Makes a segment finished without syncing durable.</summary>
    public void Sync() => _file.FlushToDisk();

    /// <summary>
    /// Hands a synced segment's pages back to the kernel. Copying a flush into pages the page cache had never used was
    /// the largest per-record cost of a loaded silo (a sixth of three silos' CPU: on this VM such pages fill at ~300 MB/s,
    /// pages freed a moment earlier at ~4 GB/s), and a log segment is read back, if ever, long after it was written; the
    /// freed pages are what the next flush writes into. Run by the flush worker, not the commit thread that may have
    /// run the sync: dropping a memtable's worth of pages takes milliseconds. Only the data blocks' pages go: opening the
    /// segment reads its first page (the header) and its tail (index, bloom filter, meta block, footer) right after, and
    /// with those dropped too each read faulted in a read-ahead window (8 MiB on this VM) of the data just dropped: 12–16
    /// MiB read back from the disk per flushed segment, while the WAL's syncs shared the disk with it (most syncs
    /// overlapping such a read were slow).
    /// </summary>
    public void DropCachedPages() => _file.File.DropCachedPages(SegmentFormat.HeaderBytes, _dataBytes - SegmentFormat.HeaderBytes);

    public void Dispose()
    {
        _file.Dispose();
        ReturnBlock();
        ReturnBuffers();
        if (!_finished)
        {
            _device.Delete(_path);
        }
    }

    private void ReturnBlock()
    {
        if (_block.Length > 0)
        {
            ArrayPool<byte>.Shared.Return(_block);
            _block = [];
        }
    }

    private void ReturnBuffers()
    {
        if (!_buffersReleased)
        {
            _buffersReleased = true;
            _buffers.Release();
        }
    }

    /// <summary>The index: its entry count, each entry's position (from the index's start), the entries, a CRC of it all.</summary>
    private void WriteIndex()
    {
        var positions = _buffers.IndexPositions;
        var entries = _buffers.Index.WrittenSpan;
        var count = positions.Count;
        Span<byte> chunk = stackalloc byte[256];
        BinaryPrimitives.WriteInt32LittleEndian(chunk, count);
        var filled = 4;
        var crc = 0u;
        var entriesStart = (uint)(4 + (4 * count));
        for (var i = 0; i < count; i++)
        {
            if (filled == chunk.Length)
            {
                crc = Crc32C.Append(crc, chunk);
                _file.Write(chunk);
                filled = 0;
            }

            BinaryPrimitives.WriteUInt32LittleEndian(chunk[filled..], entriesStart + positions[i]);
            filled += 4;
        }

        crc = Crc32C.Append(crc, chunk[..filled]);
        _file.Write(chunk[..filled]);
        _file.Write(entries);
        WriteCrc(Crc32C.Append(crc, entries));
    }

    private void FinishBlock()
    {
        if (_blockLength == 0)
        {
            return;
        }

        var blockPosition = _file.Position;
        var crc = Crc32C.Compute(_block.AsSpan(0, _blockLength));
        BinaryPrimitives.WriteUInt32LittleEndian(_block.AsSpan(_blockLength), crc);
        _file.Write(_block.AsSpan(0, _blockLength + 4));

        var index = _buffers.Index;
        _buffers.IndexPositions.Add((uint)index.WrittenCount);
        var entry = index.GetSpan(16 + _firstKeyOfBlock.Length);
        BinaryPrimitives.WriteInt64LittleEndian(entry, blockPosition);
        BinaryPrimitives.WriteInt32LittleEndian(entry[8..], _blockLength + 4);
        BinaryPrimitives.WriteInt32LittleEndian(entry[12..], _firstKeyOfBlock.Length);
        _firstKeyOfBlock.CopyTo(entry[16..]);
        index.Advance(16 + _firstKeyOfBlock.Length);
        _limiter?.Consume(_blockLength + 4);
        _sinceYield += _blockLength + 4;
        if (_sinceYield >= YieldEveryBytes)
        {
            _sinceYield = 0;
            Thread.Yield();
        }

        _blockLength = 0;
    }

    private void WriteCrc(uint crc)
    {
        Span<byte> bytes = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(bytes, crc);
        _file.Write(bytes);
    }
}
