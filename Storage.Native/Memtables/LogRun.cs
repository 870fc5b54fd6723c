namespace Pyralog.Storage.Native.Memtables;

/// <summary>
/// A dense run of one log's records starting at <see cref="BaseOffset"/>: an offset-indexed table of
/// slots, each naming where its record lies in the memtable's shared chunks (see <see cref="Memtable"/>).
/// O(1) reads, no per-record objects, and a few hundred bytes for a log that appended little, so a
/// memtable holding a thousand logs costs what their records cost.
/// One writer appends; readers see a record once <see cref="Count"/> covers it. A truncate-suffix
/// followed by new appends starts a new run instead of overwriting, so readers holding an older view
/// keep reading the records they saw.
/// </summary>
internal sealed class LogRun(ulong baseOffset, ulong createdSequence)
{
    private const int InitialSlots = 16;

    // Invariant: slots [0, _count) are written before _count covers them, and a grown table is a full
    // copy published before any slot beyond the old one is written: a reader that read _count first
    // finds every slot below it in whatever table it reads next.
    private long[] _slots = new long[InitialSlots];
    private int _count;

    public ulong BaseOffset { get; } = baseOffset;

    /// <summary>Sequence of the write that started the run; views older than it ignore the run.</summary>
    public ulong CreatedSequence { get; } = createdSequence;

    public int Count => Volatile.Read(ref _count);

    public ulong EndOffset => BaseOffset + (ulong)Count;

    /// <summary>Publishes the record at <see cref="EndOffset"/>: chunk index (high 32 bits) and position. Writer only.</summary>
    public void Publish(long slot)
    {
        var index = _count;
        if (index == _slots.Length)
        {
            var larger = new long[_slots.Length * 2];
            _slots.CopyTo(larger, 0);
            Volatile.Write(ref _slots, larger);
        }

        _slots[index] = slot;
        Volatile.Write(ref _count, index + 1);
    }

    /// <summary>The slot of <paramref name="offset"/>, if this run holds it.</summary>
    public bool TryGetSlot(ulong offset, out long slot)
    {
        var count = Count;
        if (offset < BaseOffset || offset - BaseOffset >= (ulong)count)
        {
            slot = 0;
            return false;
        }

        slot = Volatile.Read(ref _slots)[(int)(offset - BaseOffset)];
        return true;
    }
}
