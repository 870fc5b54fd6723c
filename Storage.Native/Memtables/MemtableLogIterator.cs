using Pyralog.Storage.Native.Iteration;
using Pyralog.Storage.Native.Keys;

namespace Pyralog.Storage.Native.Memtables;

/// <summary>Iterates the log records of a memtable in offset order as of a snapshot, up to an end offset.</summary>
internal sealed class MemtableLogIterator(Memtable memtable, ulong sequence, ulong endOffset) : IEntryIterator
{
    private readonly LogRun[] _runs = memtable.Runs;
    private readonly byte[] _key = new byte[KeyCodec.LogKeyLength];
    private ulong _offset;
    private bool _valid;

    public bool Valid => _valid;

    public ReadOnlySpan<byte> Key => _key;

    public ReadOnlySpan<byte> Value
    {
        get
        {
            memtable.TryGetLog(_offset, sequence, out var value);
            return value;
        }
    }

    public bool IsTombstone => false;

    public void Seek(ReadOnlySpan<byte> key)
    {
        if (key.IsEmpty || key[0] < KeyCodec.LogPrefix)
        {
            MoveTo(0);
            return;
        }

        if (key[0] > KeyCodec.LogPrefix)
        {
            _valid = false;
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
        while (offset < endOffset)
        {
            var nextBase = ulong.MaxValue;
            foreach (var run in _runs)
            {
                if (run.CreatedSequence > sequence)
                {
                    continue;
                }

                if (offset >= run.BaseOffset && offset < run.EndOffset)
                {
                    _offset = offset;
                    KeyCodec.WriteLogKey(_key, offset);
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
