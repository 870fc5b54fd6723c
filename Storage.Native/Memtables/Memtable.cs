using System.Runtime.InteropServices;
using Pyralog.Storage.Native.Log;
using Pyralog.Storage.Native.Wal;

namespace Pyralog.Storage.Native.Memtables;

/// <summary>
/// The in-memory write buffer: log records in dense <see cref="LogRun"/>s and everything else in a
/// <see cref="KvSkipList"/>. Written only by the commit leader (or by recovery); read concurrently.
/// Once swapped out it is immutable and waits for the background flush.
/// Reference counted: the store holds one reference while it publishes the memtable and each snapshot
/// one more; the WAL mappings recovered records point into stay mapped until the last is released.
/// </summary>
internal sealed class Memtable
{
    private readonly List<MappedFileMemory> _mappings = [];
    private LogRun[] _runs = [];
    private long _bytes;
    private int _references = 1;

    public KvSkipList Kv { get; } = new();

    /// <summary>Runs oldest first; a newer run wins where runs overlap.</summary>
    public LogRun[] Runs => Volatile.Read(ref _runs);

    public long ApproximateBytes => Volatile.Read(ref _bytes);

    /// <summary>Highest sequence applied (writer side).</summary>
    public ulong MaxSequence { get; set; }

    /// <summary>Log bounds when the memtable was swapped out; what its flush persists in the manifest.</summary>
    public LogState FrozenState { get; set; }

    public bool IsEmpty => Kv.Count == 0 && Runs.Length == 0;

    public void AppendLog(ulong epoch, ulong offset, ReadOnlySpan<byte> payload, ulong sequence) =>
        AddBytes(RunFor(offset, sequence).Append(epoch, payload));

    /// <summary>Adds a record that stays where it is in <paramref name="source"/> (see <see cref="LogRun.AppendReference"/>).</summary>
    public void AppendLogReference(ulong offset, ReadOnlyMemory<byte> source, int position, int payloadLength, ulong sequence)
    {
        // Why a lease: reads return raw spans into the mapping. Left to the GC, it was unmapped once the
        // memtable was flushed and unreachable, even while a reader still copied a record out of it.
        if (MemoryMarshal.TryGetMemoryManager(source, out MappedFileMemory? mapping) && !_mappings.Contains(mapping))
        {
            mapping.AddReference();
            _mappings.Add(mapping);
        }

        AddBytes(RunFor(offset, sequence).AppendReference(source, position, payloadLength));
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
        }
    }

    private LogRun RunFor(ulong offset, ulong sequence)
    {
        var runs = _runs;
        var last = runs.Length == 0 ? null : runs[^1];
        if (last is null || last.EndOffset != offset)
        {
            last = new LogRun(offset, sequence);
            var grown = new LogRun[runs.Length + 1];
            runs.CopyTo(grown, 0);
            grown[^1] = last;
            Volatile.Write(ref _runs, grown);
        }

        return last;
    }

    public void Put(ReadOnlySpan<byte> key, ReadOnlySpan<byte> value, bool tombstone, ulong sequence) =>
        AddBytes(Kv.Add(key, value, tombstone, sequence));

    /// <summary>The stored value of log <paramref name="offset"/> visible at <paramref name="sequence"/>.</summary>
    public bool TryGetLog(ulong offset, ulong sequence, out ReadOnlySpan<byte> value)
    {
        var runs = Runs;
        for (var i = runs.Length - 1; i >= 0; i--)
        {
            if (runs[i].CreatedSequence <= sequence && runs[i].TryGetValue(offset, out value))
            {
                return true;
            }
        }

        value = default;
        return false;
    }

    private void AddBytes(long bytes) => Volatile.Write(ref _bytes, _bytes + bytes);
}
