using System.Buffers;

namespace Pyralog.Storage.Native.Segments;

/// <summary>
/// The buffers a segment writer grows with its segment (its keys' bloom hashes, its index and the index's block
/// positions), kept by a worker that writes segments one after another (the flush, the compaction) and lent to each of
/// its writers in turn. A writer that grew its own reached a flush's size by doubling into new large-object arrays
/// (about 16 MiB of them per 64 MiB memtable of 100 B records), and every page of a new array faults in at its first
/// write: 10–14 µs a page on the VM the benchmarks run on, 40–70 ms of each flush, on a core the commit thread needs.
/// Reused, they stay as large as the largest segment the worker wrote (8 bytes per entry, about 4 MiB for a 64 MiB
/// segment of 100 B records).
/// </summary>
internal sealed class SegmentWriterBuffers
{
    // Invariant: lent to at most one writer at a time; a writer takes them in its constructor and gives them back when it
    // is finished or disposed, and only the lending writer reads or writes the buffers meanwhile.
    private bool _lent;
    private ulong[] _hashes = new ulong[1024];

    /// <summary>The index entries of the segment being written.</summary>
    public ArrayBufferWriter<byte> Index { get; } = new(4096);

    /// <summary>Where each index entry starts in <see cref="Index"/>.</summary>
    public List<uint> IndexPositions { get; } = [];

    /// <summary>The bloom hashes of the segment's keys, in the order added; grown with <see cref="GrowHashes"/>.</summary>
    public ulong[] Hashes => _hashes;

    /// <summary>Lends the buffers, emptied, to a new writer.</summary>
    /// <exception cref="InvalidOperationException">Another writer holds them.</exception>
    public void Take()
    {
        if (_lent)
        {
            throw new InvalidOperationException("segment writer buffers are lent to another writer; a worker writes one segment at a time");
        }

        _lent = true;
        Index.ResetWrittenCount();
        IndexPositions.Clear();
    }

    /// <summary>Takes the buffers back from the writer that held them.</summary>
    public void Release() => _lent = false;

    /// <summary>Doubles <see cref="Hashes"/>, keeping its first <paramref name="used"/> hashes.</summary>
    public ulong[] GrowHashes(long used)
    {
        var larger = GC.AllocateUninitializedArray<ulong>(_hashes.Length * 2);
        _hashes.AsSpan(0, (int)used).CopyTo(larger);
        _hashes = larger;
        return larger;
    }
}
