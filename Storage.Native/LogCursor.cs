using System.Buffers.Binary;
using Pyralog.Storage.Native.Iteration;
using Pyralog.Storage.Native.Keys;

namespace Pyralog.Storage.Native;

/// <summary>
/// Forward scan of one log's records from a view taken when the cursor was opened: appends,
/// truncations, flushes and compactions after that are not seen. <see cref="Payload"/> is valid until
/// the next <see cref="MoveNext"/>. Dispose to release the view (it pins segment files).
/// </summary>
public sealed class LogCursor : IDisposable
{
    private readonly ReadView _view;
    private readonly MergingIterator _iterator;
    private readonly ulong _end;
    private readonly string _directory;
    private ulong _expected;
    private bool _started;
    private bool _ended; // Invariant: true once MoveNext returned false; it then keeps returning false
    private bool _disposed;

    internal LogCursor(ReadView view, ulong fromOffset, ulong toOffsetExclusive, string directory)
    {
        var log = view.Log;
        _view = view;
        _directory = directory;
        var state = view.State;
        _expected = Math.Max(fromOffset, state.First);
        _end = Math.Min(toOffsetExclusive, state.Next);
        Span<byte> start = stackalloc byte[KeyCodec.LogKeyLength];
        Span<byte> end = stackalloc byte[KeyCodec.LogKeyLength];
        KeyCodec.WriteLogKey(start, log, _expected);
        KeyCodec.WriteLogKey(end, log, Math.Max(_end, _expected));
        try
        {
            _iterator = view.CreateIterator(start, end, includeLog: true, includeKv: false, logEnd: _end);
        }
        catch
        {
            view.Release(); // a segment that failed its checks or could not be mapped: the cursor never existed
            throw;
        }
    }

    public ulong Offset { get; private set; }

    public ulong Epoch { get; private set; }

    public ReadOnlySpan<byte> Payload
    {
        get
        {
            // Why: Dispose released the view, so the segment under the iterator may already be unmapped.
            ObjectDisposedException.ThrowIf(_disposed, this);
            ThrowIfNotOnRecord(_started, _ended);
            return _iterator.Value[8..];
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
        if (_expected >= _end)
        {
            _ended = true;
            return false;
        }

        if (!_iterator.Valid || !KeyCodec.IsLogKey(_iterator.Key) || KeyCodec.ReadLogId(_iterator.Key) != _view.Log
            || KeyCodec.ReadLogOffset(_iterator.Key) != _expected)
        {
            throw new PyramidCorruptionException(_directory, (long)_expected, $"record {_expected} of log {_view.Log} is missing although the log spans it");
        }

        Offset = _expected;
        Epoch = BinaryPrimitives.ReadUInt64LittleEndian(_iterator.Value);
        _expected++;
        return true;
    }

    /// <exception cref="InvalidOperationException">Before the first <c>MoveNext</c> or after one returned false.</exception>
    internal static void ThrowIfNotOnRecord(bool started, bool ended)
    {
        if (!started || ended)
        {
            throw new InvalidOperationException(started ? "the cursor is past its last record" : "call MoveNext before reading the cursor's record");
        }
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
