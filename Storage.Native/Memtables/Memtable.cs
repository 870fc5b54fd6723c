using Pyralog.Storage.Native.Log;

namespace Pyralog.Storage.Native.Memtables;

/// <summary>
/// The in-memory write buffer: log records in dense <see cref="LogRun"/>s and everything else in a
/// <see cref="KvSkipList"/>. Written only by the commit leader (or by recovery); read concurrently.
/// Once swapped out it is immutable and waits for the background flush.
/// </summary>
internal sealed class Memtable
{
    private LogRun[] _runs = [];
    private long _bytes;

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
    public void AppendLogReference(ulong offset, ReadOnlyMemory<byte> source, int position, int payloadLength, ulong sequence) =>
        AddBytes(RunFor(offset, sequence).AppendReference(source, position, payloadLength));

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
