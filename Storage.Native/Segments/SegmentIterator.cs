using Pyralog.Storage.Native.Iteration;

namespace Pyralog.Storage.Native.Segments;

/// <summary>Walks a segment's entries block by block, verifying each block's CRC (bypassing the cache
/// so scans and compaction do not evict the point-read working set). It pins the segment's mapping
/// for its reader when it first reads.</summary>
internal sealed class SegmentIterator(Segment segment, SegmentPins pins) : IEntryIterator
{
    private readonly Segment _segment = segment;
    private SegmentMapping? _mapping;
    private int _block = -1;
    private long _blockPosition;
    private int _blockLength;
    private int _at;
    private int _entryLength;
    private byte _kind;
    private int _keyStart;
    private int _keyLength;
    private int _valueLength;

    public bool Valid => _entryLength > 0;

    public ReadOnlySpan<byte> Key => Block.Slice(_keyStart, _keyLength);

    public ReadOnlySpan<byte> Value => Block.Slice(_keyStart + _keyLength, _valueLength);

    public bool IsTombstone => _kind == SegmentFormat.KindDelete;

    private ReadOnlySpan<byte> Block => _mapping!.Bytes(_blockPosition, _blockLength);

    private SegmentMapping Mapping => _mapping ??= _segment.Pin(pins);

    /// <summary>Lets go of the segment's mapping before the reader's other pins go: the iterator is done with it
    /// (a sorted run's next segment takes over), and no span from it is used again.</summary>
    public void Unpin()
    {
        if (_mapping is { } mapping)
        {
            _mapping = null;
            _entryLength = 0;
            pins.Release(mapping);
        }
    }

    public void Seek(ReadOnlySpan<byte> key)
    {
        var block = _segment.FindBlock(Mapping, key);
        LoadBlock(Math.Max(0, block));
        while (Valid && Key.SequenceCompareTo(key) < 0)
        {
            Next();
        }
    }

    public void Next()
    {
        _at += _entryLength;
        Decode();
    }

    private void LoadBlock(int block)
    {
        _entryLength = 0;
        if (block >= _segment.BlockCount)
        {
            _block = block;
            return;
        }

        _block = block;
        _blockLength = _segment.ReadBlock(Mapping, _block, useCache: false, out _blockPosition).Length;
        _at = 0;
        Decode();
    }

    private void Decode()
    {
        while (true)
        {
            var block = Block;
            if (_at >= block.Length)
            {
                if (_block + 1 >= _segment.BlockCount)
                {
                    _entryLength = 0;
                    return;
                }

                _block++;
                _blockLength = _segment.ReadBlock(Mapping, _block, useCache: false, out _blockPosition).Length;
                _at = 0;
                continue;
            }

            var n = SegmentFormat.ReadEntry(block[_at..], out _kind, out var key, out var value);
            if (n == 0)
            {
                throw new PyramidCorruptionException(_segment.Path, _blockPosition + _at, "malformed entry in a block whose checksum matched");
            }

            _keyStart = _at + (n - key.Length - value.Length);
            _keyLength = key.Length;
            _valueLength = value.Length;
            _entryLength = n;
            return;
        }
    }
}
