using System.Runtime.CompilerServices;
using System.Buffers.Binary;

namespace Pyralog.Storage.Native.Memtables;

/// <summary>
/// A dense run of log records starting at <see cref="BaseOffset"/>, stored back to back in 1 MiB arena
/// chunks (or, after recovery, left in the mapped WAL) and addressed by an offset-indexed slot table:
/// O(1) reads, no per-record objects.
/// One writer appends; readers see a record once <see cref="Count"/> covers it. A truncate-suffix
/// followed by new appends starts a new run instead of overwriting, so readers holding an older
/// snapshot keep reading the records they saw.
/// </summary>
internal sealed class LogRun
{
    private const int ChunkBytes = 1 << 20;
    private const int SlotsPerPage = 1 << 14;
    private const int RecordHeader = 12; // payload length + epoch

    private ReadOnlyMemory<byte>[] _chunks = new ReadOnlyMemory<byte>[4];
    private long[][] _slotPages = new long[4][];
    private int _chunkCount;
    private byte[]? _arena;
    private int _arenaIndex;
    private int _arenaUsed;
    private ReadOnlyMemory<byte> _lastSource;
    private int _lastSourceIndex = -1;
    private int _count;

    public LogRun(ulong baseOffset, ulong createdSequence)
    {
        BaseOffset = baseOffset;
        CreatedSequence = createdSequence;
    }

    public ulong BaseOffset { get; }

    /// <summary>Sequence of the write that started the run; snapshots older than it ignore the run.</summary>
    public ulong CreatedSequence { get; }

    public int Count => Volatile.Read(ref _count);

    public ulong EndOffset => BaseOffset + (ulong)Count;

    /// <summary>Appends the record at <see cref="EndOffset"/>; returns the bytes it occupies. Writer only.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // hot on recovery: skip tier-0 code
    public long Append(ulong epoch, ReadOnlySpan<byte> payload)
    {
        var size = RecordHeader + payload.Length;
        if (_arena is null || _arenaUsed + size > _arena.Length)
        {
            // Uninitialized: every byte a reader can reach is written before it is published.
            _arena = GC.AllocateUninitializedArray<byte>(Math.Max(size, ChunkBytes));
            _arenaIndex = AddChunk(_arena);
            _arenaUsed = 0;
        }

        var at = _arenaUsed;
        BinaryPrimitives.WriteInt32LittleEndian(_arena.AsSpan(at), payload.Length);
        BinaryPrimitives.WriteUInt64LittleEndian(_arena.AsSpan(at + 4), epoch);
        payload.CopyTo(_arena.AsSpan(at + RecordHeader));
        _arenaUsed = at + size;
        Publish(((long)_arenaIndex << 32) | (uint)at);
        return size + sizeof(long);
    }

    /// <summary>Appends a record that already sits, laid out as length‖epoch‖payload, at
    /// <paramref name="position"/> of <paramref name="source"/> (a mapped WAL during recovery). No copy.</summary>
    public long AppendReference(ReadOnlyMemory<byte> source, int position, int payloadLength)
    {
        if (!_lastSource.Equals(source))
        {
            _lastSourceIndex = AddChunk(source);
            _lastSource = source;
        }

        Publish(((long)_lastSourceIndex << 32) | (uint)position);
        return RecordHeader + payloadLength + sizeof(long);
    }

    /// <summary>The stored value (epoch then payload) of <paramref name="offset"/>, if this run holds it.</summary>
    public bool TryGetValue(ulong offset, out ReadOnlySpan<byte> value)
    {
        var count = Count;
        if (offset < BaseOffset || offset - BaseOffset >= (ulong)count)
        {
            value = default;
            return false;
        }

        var index = (int)(offset - BaseOffset);
        var slot = Volatile.Read(ref _slotPages)[index / SlotsPerPage][index % SlotsPerPage];
        var chunk = Volatile.Read(ref _chunks)[(int)(slot >> 32)].Span;
        var at = (int)(uint)slot;
        var length = BinaryPrimitives.ReadInt32LittleEndian(chunk[at..]);
        value = chunk.Slice(at + 4, 8 + length);
        return true;
    }

    private void Publish(long slot)
    {
        var index = _count;
        var page = index / SlotsPerPage;
        if (page >= _slotPages.Length)
        {
            var larger = new long[_slotPages.Length * 2][];
            Array.Copy(_slotPages, larger, _slotPages.Length);
            Volatile.Write(ref _slotPages, larger);
        }

        _slotPages[page] ??= new long[SlotsPerPage];
        _slotPages[page][index % SlotsPerPage] = slot;
        Volatile.Write(ref _count, index + 1);
    }

    private int AddChunk(ReadOnlyMemory<byte> chunk)
    {
        if (_chunkCount == _chunks.Length)
        {
            var larger = new ReadOnlyMemory<byte>[_chunks.Length * 2];
            Array.Copy(_chunks, larger, _chunks.Length);
            Volatile.Write(ref _chunks, larger);
        }

        _chunks[_chunkCount] = chunk;
        return _chunkCount++;
    }
}
