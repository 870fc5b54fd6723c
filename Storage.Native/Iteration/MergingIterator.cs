namespace Pyralog.Storage.Native.Iteration;

/// <summary>
/// Merges sources given newest first into one ordered stream where, for equal keys, only the newest
/// source's entry appears. Tombstones are passed through (callers decide whether to hide them).
/// Sources are few (memtables + L0 + one per level), so a linear minimum beats a heap.
/// </summary>
internal sealed class MergingIterator : IEntryIterator
{
    private readonly IEntryIterator[] _sources;
    private int _current = -1;

    public MergingIterator(IEntryIterator[] sourcesNewestFirst) => _sources = sourcesNewestFirst;

    public bool Valid => _current >= 0;

    public ReadOnlySpan<byte> Key => _sources[_current].Key;

    public ReadOnlySpan<byte> Value => _sources[_current].Value;

    public bool IsTombstone => _sources[_current].IsTombstone;

    public void Seek(ReadOnlySpan<byte> key)
    {
        foreach (var source in _sources)
        {
            source.Seek(key);
        }

        FindSmallest();
    }

    public void Next()
    {
        var winner = _sources[_current];
        var key = winner.Key;
        for (var i = 0; i < _sources.Length; i++)
        {
            if (i != _current && _sources[i].Valid && _sources[i].Key.SequenceEqual(key))
            {
                _sources[i].Next();
            }
        }

        winner.Next();
        FindSmallest();
    }

    private void FindSmallest()
    {
        _current = -1;
        for (var i = 0; i < _sources.Length; i++)
        {
            if (_sources[i].Valid && (_current < 0 || _sources[i].Key.SequenceCompareTo(_sources[_current].Key) < 0))
            {
                _current = i;
            }
        }
    }
}
