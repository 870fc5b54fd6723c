using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using Pyralog.Storage.Native.Log;
using Pyralog.Storage.Native.Wal;

namespace Pyralog.Storage.Native.Memtables;

/// <summary>
/// The in-memory write buffer: log records of every log in per-log <see cref="LogRun"/>s, stored back to
/// back in 1 MiB arena chunks shared by all logs (or, after recovery, left in the mapped WAL), and
/// everything else in a <see cref="KvSkipList"/>. Sharing the chunks is what keeps memory bounded by the
/// bytes written, not by the number of logs. Written only by the commit loop (or by recovery); read
/// concurrently. Once swapped out it is immutable and waits for the background flush.
/// Reference counted: the store holds one reference while it publishes the memtable and each read view
/// one more; the WAL mappings recovered records point into stay mapped until the last is released.
/// </summary>
internal sealed class Memtable(ArenaPool arenas)
{
    private const int RecordHeader = 12; // payload length + epoch

    private readonly List<MappedFileMemory> _mappings = [];

    // Chunks of the log records; returned to the pool when the last reference goes.
    private readonly ArenaWriter _arena = new(arenas, 0);
    private readonly ConcurrentDictionary<ulong, MemtableLog> _logs = new();

    // Invariant: chunks [0, _chunkCount) never change once added; a grown array is a full copy published
    // before a slot naming a new chunk is.
    private ReadOnlyMemory<byte>[] _chunks = new ReadOnlyMemory<byte>[4];
    private int _chunkCount;
    private int _arenaIndex; // _chunks index of the arena's current chunk
    private ReadOnlyMemory<byte> _lastSource;
    private int _lastSourceIndex = -1;
    private long _bytes;
    private int _references = 1;

    public KvSkipList Kv { get; } = new(arenas);

    public long ApproximateBytes => Volatile.Read(ref _bytes);

    /// <summary>Highest sequence applied (writer side).</summary>
    public ulong MaxSequence { get; set; }

    /// <summary>Bounds of every log when the memtable was swapped out; what its flush persists in the manifest.</summary>
    public IReadOnlyDictionary<ulong, LogSpaceState> FrozenStates { get; set; } = new Dictionary<ulong, LogSpaceState>();

    public bool IsEmpty => Kv.Count == 0 && _logs.IsEmpty;

    public bool HasLogs => !_logs.IsEmpty;

    /// <summary>Log ids with records here, ascending (key order).</summary>
    public ulong[] LogIds()
    {
        var ids = _logs.Keys.ToArray();
        Array.Sort(ids);
        return ids;
    }

    public MemtableLog? FindLog(ulong log) => _logs.TryGetValue(log, out var found) ? found : null;

    /// <summary>Copies the record into the arena and publishes it at <paramref name="offset"/>. Writer only.</summary>
    [MethodImpl(MethodImplOptions.AggressiveOptimization)] // hot on recovery: skip tier-0 code
    public void AppendLog(ulong log, ulong epoch, ulong offset, ReadOnlySpan<byte> payload, ulong sequence)
    {
        var size = RecordHeader + payload.Length;
        var run = RunFor(log, offset, sequence, size);
        if (_arena.Allocate(size, out var chunk, out var at))
        {
            _arenaIndex = AddChunk(chunk);
        }

        BinaryPrimitives.WriteInt32LittleEndian(chunk.AsSpan(at), payload.Length);
        BinaryPrimitives.WriteUInt64LittleEndian(chunk.AsSpan(at + 4), epoch);
        payload.CopyTo(chunk.AsSpan(at + RecordHeader));
        run.Publish(((long)_arenaIndex << 32) | (uint)at);
        AddBytes(size + sizeof(long));
    }

    /// <summary>Adds a record that already sits, laid out as length‖epoch‖payload, at
    /// <paramref name="position"/> of <paramref name="source"/> (a mapped WAL during recovery). No copy.</summary>
    public void AppendLogReference(ulong log, ulong offset, ReadOnlyMemory<byte> source, int position, int payloadLength, ulong sequence)
    {
        var run = RunFor(log, offset, sequence, RecordHeader + payloadLength);
        if (!_lastSource.Equals(source))
        {
            // Why a lease: reads return raw spans into the mapping. Left to the GC, it was unmapped once the
            // memtable was flushed and unreachable, even while a reader still copied a record out of it.
            if (MemoryMarshal.TryGetMemoryManager(source, out MappedFileMemory? mapping) && !_mappings.Contains(mapping))
            {
                mapping.AddReference();
                _mappings.Add(mapping);
            }

            _lastSourceIndex = AddChunk(source);
            _lastSource = source;
        }

        run.Publish(((long)_lastSourceIndex << 32) | (uint)position);
        AddBytes(RecordHeader + payloadLength + sizeof(long));
    }

    public void Put(ReadOnlySpan<byte> key, ReadOnlySpan<byte> value, bool tombstone, ulong sequence) =>
        AddBytes(Kv.Add(key, value, tombstone, sequence));

    /// <summary>The stored value (epoch then payload) of <paramref name="log"/>'s <paramref name="offset"/> visible at <paramref name="sequence"/>.</summary>
    public bool TryGetLog(ulong log, ulong offset, ulong sequence, out ReadOnlySpan<byte> value)
    {
        if (_logs.TryGetValue(log, out var found))
        {
            var runs = found.Runs;
            for (var i = runs.Length - 1; i >= 0; i--)
            {
                if (runs[i].CreatedSequence <= sequence && runs[i].TryGetSlot(offset, out var slot))
                {
                    value = Record(slot);
                    return true;
                }
            }
        }

        value = default;
        return false;
    }

    /// <summary>The record <paramref name="run"/> (one of this memtable's) holds at <paramref name="offset"/>, which it must cover.</summary>
    public ReadOnlySpan<byte> RunRecord(LogRun run, ulong offset)
    {
        if (!run.TryGetSlot(offset, out var slot))
        {
            throw new ArgumentOutOfRangeException(nameof(offset), offset, $"the run [{run.BaseOffset}, {run.EndOffset}) does not hold this offset");
        }

        return Record(slot);
    }

    /// <summary>Pins the memtable; only while it is published (under the view lock), so never from zero.</summary>
    public void AddReference() => Interlocked.Increment(ref _references);

    public void Release()
    {
        if (Interlocked.Decrement(ref _references) == 0)
        {
            foreach (var mapping in _mappings)
            {
                mapping.Release();
            }

            _arena.Return();
            Kv.ReturnChunks();
        }
    }

    private ReadOnlySpan<byte> Record(long slot)
    {
        var chunk = Volatile.Read(ref _chunks)[(int)(slot >> 32)].Span;
        var at = (int)(uint)slot;
        var length = BinaryPrimitives.ReadInt32LittleEndian(chunk[at..]);
        return chunk.Slice(at + 4, 8 + length);
    }

    private LogRun RunFor(ulong log, ulong offset, ulong sequence, int recordBytes)
    {
        if (!_logs.TryGetValue(log, out var found))
        {
            found = new MemtableLog(log);
            _logs[log] = found;
        }

        found.Bytes += recordBytes;
        return found.RunFor(offset, sequence);
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

    private void AddBytes(long bytes) => Volatile.Write(ref _bytes, _bytes + bytes);
}
