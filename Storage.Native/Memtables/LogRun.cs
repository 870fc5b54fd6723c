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
    private const int BlockShift = 12;
    private const int BlockSlots = 1 << BlockShift; // 32 KiB: a block stays off the large-object heap

    // The slots in blocks: the first doubles from InitialSlots up to BlockSlots, then whole blocks are added. A run of
    // 600,000 records in one doubling table copied 4 MiB and zeroed a new 8 MiB array in the middle of one commit
    // group's apply (11 ms, where an apply takes 0.4); a new block costs 32 KiB and a copy of the block list (a pointer per
    // 4,096 records).
    // Invariant: slots [0, _count) are written before _count covers them; a grown first block is a full copy, and a
    // grown directory a full copy naming the new block, each published before any slot beyond the old ones is written:
    // a reader that read _count first finds every slot below it in whatever directory it reads next.
    private long[][] _blocks = [new long[InitialSlots]];
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
        var blocks = _blocks;
        var block = index >> BlockShift;
        var within = index & (BlockSlots - 1);
        if (block == 0 && within == blocks[0].Length)
        {
            var larger = new long[within * 2];
            blocks[0].CopyTo(larger, 0);
            blocks = [larger];
            Volatile.Write(ref _blocks, blocks);
        }
        else if (block > 0 && within == 0)
        {
            var grown = new long[block + 1][];
            blocks.CopyTo(grown, 0);
            grown[block] = new long[BlockSlots];
            blocks = grown;
            Volatile.Write(ref _blocks, blocks);
        }

        blocks[block][within] = slot;
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

        var index = (int)(offset - BaseOffset);
        slot = Volatile.Read(ref _blocks)[index >> BlockShift][index & (BlockSlots - 1)];
        return true;
    }
}
