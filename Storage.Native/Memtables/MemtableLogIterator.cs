using Pyralog.Storage.Native.Iteration;
using Pyralog.Storage.Native.Keys;

namespace Pyralog.Storage.Native.Memtables;

/// <summary>Iterates one log's records in a memtable in offset order as of a view, up to an end offset.</summary>
internal sealed class MemtableLogIterator : IEntryIterator
{
    private readonly Memtable _memtable;
    private readonly ulong _log;
    private readonly ulong _sequence;
    private readonly ulong _endOffset;
    private readonly LogRun[] _runs;
    private readonly byte[] _key = new byte[KeyCodec.LogKeyLength];
    private ulong _offset;
    private bool _valid;

    public MemtableLogIterator(Memtable memtable, ulong log, ulong sequence, ulong endOffset)
    {
        _memtable = memtable;
        _log = log;
        _sequence = sequence;
        _endOffset = endOffset;
        _runs = memtable.FindLog(log)?.Runs ?? [];
    }

    public bool Valid => _valid;

    public ReadOnlySpan<byte> Key => _key;

    public ReadOnlySpan<byte> Value
    {
        get
        {
            _memtable.TryGetLog(_log, _offset, _sequence, out var value);
            return value;
        }
    }

    public bool IsTombstone => false;

    public void Seek(ReadOnlySpan<byte> key)
    {
        Span<byte> own = stackalloc byte[KeyCodec.LogKeyLength];
        KeyCodec.WriteLogKey(own, _log, 0);
        var compared = key.SequenceCompareTo(own);
        if (compared <= 0)
        {
            MoveTo(0);
            return;
        }

        if (key.Length < 9 || !key[..9].SequenceEqual(own[..9]))
        {
            _valid = false; // past this log
            return;
        }

        Span<byte> padded = stackalloc byte[KeyCodec.LogKeyLength];
        padded.Clear();
        key[..Math.Min(key.Length, KeyCodec.LogKeyLength)].CopyTo(padded);
        var offset = KeyCodec.ReadLogOffset(padded);
        if (key.Length > KeyCodec.LogKeyLength)
        {
            if (offset == ulong.MaxValue)
            {
                _valid = false;
                return;
            }

            offset++;
        }

        MoveTo(offset);
    }

    public void Next() => MoveTo(_offset + 1);

    private void MoveTo(ulong offset)
    {
        while (offset < _endOffset)
        {
            var nextBase = ulong.MaxValue;
            foreach (var run in _runs)
            {
                if (run.CreatedSequence > _sequence)
                {
                    continue;
                }

                if (offset >= run.BaseOffset && offset < run.EndOffset)
                {
                    _offset = offset;
                    KeyCodec.WriteLogKey(_key, _log, offset);
                    _valid = true;
                    return;
                }

                if (run.BaseOffset > offset && run.BaseOffset < nextBase)
                {
                    nextBase = run.BaseOffset;
                }
            }

            offset = nextBase;
        }

        _valid = false;
    }
}
