using Pyralog.Storage.Native.Segments;

namespace Pyralog.Storage.Native.Iteration;

/// <summary>Iterates one sorted run (an L1+ level, or segments of a compaction that do not overlap): they are read one
/// after another, and each segment's mapping is let go as the iterator moves to the next, so a long run holds one
/// mapping at a time (see <see cref="SegmentMapBudget"/>).</summary>
internal sealed class LevelIterator(Segment[] segmentsByKey, SegmentPins pins) : IEntryIterator
{
    private int _index = -1;
    private SegmentIterator? _current;

    public bool Valid => _current is { Valid: true };

    public ReadOnlySpan<byte> Key => _current!.Key;

    public ReadOnlySpan<byte> Value => _current!.Value;

    public bool IsTombstone => _current!.IsTombstone;

    /// <summary>The index of the first segment of a sorted run whose last key is at or after <paramref name="key"/>
    /// (the run's length if none): binary search, as a silo's level may hold a segment per busy log.</summary>
    public static int FirstEndingAtOrAfter(Segment[] run, ReadOnlySpan<byte> key)
    {
        int low = 0, high = run.Length;
        while (low < high)
        {
            var mid = (low + high) >>> 1;
            if (run[mid].Metadata.MaxKey.AsSpan().SequenceCompareTo(key) < 0)
            {
                low = mid + 1;
            }
            else
            {
                high = mid;
            }
        }

        return low;
    }

    public void Seek(ReadOnlySpan<byte> key)
    {
        _index = FirstEndingAtOrAfter(segmentsByKey, key);

        _current?.Unpin();
        if (_index >= segmentsByKey.Length)
        {
            _current = null;
            return;
        }

        _current = new SegmentIterator(segmentsByKey[_index], pins);
        _current.Seek(key);
        SkipExhausted();
    }

    public void Next()
    {
        _current!.Next();
        SkipExhausted();
    }

    private void SkipExhausted()
    {
        while (_current is { Valid: false } && _index + 1 < segmentsByKey.Length)
        {
            _index++;
            _current.Unpin();
            _current = new SegmentIterator(segmentsByKey[_index], pins);
            _current.Seek(segmentsByKey[_index].Metadata.MinKey);
        }
    }
}
