using Pyralog.Storage.Native.Iteration;
using Pyralog.Storage.Native.Keys;

namespace Pyralog.Storage.Native;

/// <summary>
/// Ordered scan of live key/value pairs in [start, end) as of the view taken when it was opened.
/// <see cref="Key"/> and <see cref="Value"/> are valid until the next <see cref="MoveNext"/>.
/// </summary>
public sealed class KvCursor : IDisposable
{
    private readonly ReadView _view;
    private readonly MergingIterator _iterator;
    private readonly byte[] _end;
    private bool _started;
    private bool _ended; // Invariant: true once MoveNext returned false; it then keeps returning false
    private bool _disposed;

    internal KvCursor(ReadView view, ReadOnlySpan<byte> startInclusive, byte[] endExclusiveInternal)
    {
        _view = view;
        _end = endExclusiveInternal;
        Span<byte> start = stackalloc byte[startInclusive.Length + 1];
        start[0] = KeyCodec.KvPrefix;
        startInclusive.CopyTo(start[1..]);
        try
        {
            _iterator = view.CreateIterator(start, _end, includeLog: false, includeKv: true, logEnd: 0);
        }
        catch
        {
            view.Release(); // a segment that failed its checks or could not be mapped: the cursor never existed
            throw;
        }
    }

    public ReadOnlySpan<byte> Key
    {
        get
        {
            // Why: Dispose released the view, so the segment under the iterator may already be unmapped.
            ObjectDisposedException.ThrowIf(_disposed, this);
            LogCursor.ThrowIfNotOnRecord(_started, _ended);
            return _iterator.Key[1..];
        }
    }

    public ReadOnlySpan<byte> Value
    {
        get
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            LogCursor.ThrowIfNotOnRecord(_started, _ended);
            return _iterator.Value;
        }
    }

    public bool MoveNext()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (_ended)
        {
            return false; // the iterator is past its last source: moving it again would fail
        }

        if (_started)
        {
            _iterator.Next();
        }

        _started = true;
        while (_iterator.Valid && _iterator.Key.SequenceCompareTo(_end) < 0)
        {
            if (!_iterator.IsTombstone)
            {
                return true;
            }

            _iterator.Next();
        }

        _ended = true;
        return false;
    }

    public void Dispose()
    {
        if (!_disposed)
        {
            _disposed = true;
            _view.Release();
        }
    }
}
