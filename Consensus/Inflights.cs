namespace Pyralog.Consensus;

/// <summary>
/// The Appends in flight to one peer, as a ring of (last index, bytes). The leader stops sending when either the
/// message count or the byte total reaches its bound, so a slow follower costs bounded memory and bandwidth.
/// </summary>
internal sealed class Inflights
{
    private readonly long[] _index;
    private readonly long[] _bytes;
    private readonly long _maxBytes;
    private int _start;
    private int _count;
    private long _totalBytes;

    public Inflights(int maxCount, long maxBytes)
    {
        _index = new long[maxCount];
        _bytes = new long[maxCount];
        _maxBytes = maxBytes;
    }

    public bool Full => _count == _index.Length || _totalBytes >= _maxBytes;

    public void Add(long lastIndex, long bytes)
    {
        var slot = (_start + _count) % _index.Length;
        _index[slot] = lastIndex;
        _bytes[slot] = bytes;
        _count++;
        _totalBytes += bytes;
    }

    /// <summary>Frees every in-flight message whose last index is ≤ <paramref name="index"/> (it was acknowledged).</summary>
    public void FreeLE(long index)
    {
        while (_count > 0 && _index[_start] <= index)
        {
            _totalBytes -= _bytes[_start];
            _start = (_start + 1) % _index.Length;
            _count--;
        }
    }

    /// <summary>Frees the oldest in-flight message so a peer whose acknowledgements were lost can be probed again.</summary>
    public void FreeFirst()
    {
        if (_count > 0)
        {
            FreeLE(_index[_start]);
        }
    }

    public void Reset()
    {
        _start = 0;
        _count = 0;
        _totalBytes = 0;
    }
}
