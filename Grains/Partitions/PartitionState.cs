using System.Buffers.Binary;
using Pyralog.Consensus;
using Pyralog.Grains.Interfaces.Logs;
using Pyralog.Grains.Replication;
using Pyralog.Storage.Native;

namespace Pyralog.Grains.Partitions;

/*
 * A partition replica's applied state: epochs and dense offsets over the committed Raft log.
 *
 * Epochs: the epoch of a record is the term of the leader that appended it. A new leader's first entry is the Raft
 * no-op of its term; applying it seals the previous epoch at the current next offset (its end is implicit in the log
 * prefix, which every replica applies identically) and opens the new one. Offsets: the records of an entry get the
 * next offsets when the entry is applied, so offsets are dense per partition and never depend on which leader
 * appended; configuration and no-op entries carry none. (epoch, offset) is a record's address.
 *
 * Append times: the leader stamps each record entry with its clock; applying takes the larger of the stamp and the
 * previous entry's time, so times never decrease along the offsets (a new leader's clock may be behind) and every
 * replica derives the same ones. They locate offsets by time (FindOffset).
 *
 * Idempotent producers: applying a producer's batch records it in the ProducerTable (see there).
 *
 * Where the records are: in the Raft log itself (no second copy). To find the entry holding an offset, the state
 * keeps the offset index: per record entry, a key "o ‖ last offset" → (Raft index, first offset, append time) in the
 * store, plus the recent ones in memory. The index and the applied state ("a") are written unsynced after each apply pass: both
 * can be rebuilt from the log, and after a crash the node hands out again the entries after the stored applied index
 * (RaftOptions.Applied), which re-derives exactly the same keys.
 */
internal sealed class PartitionState : IReplicaStateMachine
{
    private const int RecentEntries = 4096;
    private const int OffsetIndexValueBytes = 24;
    private const int AppliedHeaderBytes = 36;

    private readonly PyramidStore _store;
    private readonly ulong _storeLog;
    private readonly byte[] _appliedKey;

    // Invariant: sorted by LastOffset (entries applied in order), and by AppendTimeMs; the last _unwrittenRecent of them
    // (or fewer) are not yet in the store's offset index, so only earlier ones may be dropped from memory.
    private readonly List<(ulong LastOffset, long Index, ulong FirstOffset, long AppendTimeMs)> _recent = [];
    private int _unwrittenRecent;
    private int _inFlightRecent;

    // Invariant: epochs in increasing order, each with the offset its first record has (or will have).
    private readonly List<(ulong Epoch, ulong StartOffset)> _epochs = [];
    private bool _dirty;

    // Completed (and replaced) whenever records are applied or an epoch opens: what long polls and a new leader's
    // producer checks wait on.
    private TaskCompletionSource? _changed;

    private PartitionState(PyramidStore store, ulong storeLog)
    {
        _store = store;
        _storeLog = storeLog;
        _appliedKey = ReplicaKv.Key(storeLog, ReplicaKv.Applied);
        Producers = ProducerTable.Load(store, storeLog);
    }

    public long AppliedIndex { get; private set; }

    public ulong FirstOffset { get; private set; }

    public ulong NextOffset { get; private set; }

    public ulong Epoch => _epochs.Count == 0 ? 0 : _epochs[^1].Epoch;

    /// <summary>The append time of the last record entry applied (Unix milliseconds; 0 before any).</summary>
    public long LastAppendTimeMs { get; private set; }

    public ProducerTable Producers { get; }

    /// <summary>Completes the next time records are applied or an epoch opens.</summary>
    public Task Changed => (_changed ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).Task;

    public IReadOnlyList<(ulong Epoch, ulong StartOffset)> Epochs => _epochs;

    public static async Task<PartitionState> LoadAsync(PyramidStore store, ulong storeLog)
    {
        var state = new PartitionState(store, storeLog);
        if (await store.GetAsync(ReplicaKv.Key(storeLog, ReplicaKv.Applied)).ConfigureAwait(false) is { } applied)
        {
            state.Decode(applied);
        }

        return state;
    }

    public object? Apply(in LogEntry entry)
    {
        if (entry.Index <= AppliedIndex)
        {
            return null;
        }

        AppliedIndex = entry.Index;
        _dirty = true;
        if (entry.Type != EntryType.Normal)
        {
            return null;
        }

        var epoch = (ulong)entry.Term;
        if (epoch > Epoch)
        {
            _epochs.Add((epoch, NextOffset));
            SignalChanged();
        }

        var data = entry.Data.Span;
        var count = RecordBatchCodec.Count(data);
        if (count == 0)
        {
            return null;
        }

        var header = RecordBatchCodec.Header(data);
        LastAppendTimeMs = Math.Max(LastAppendTimeMs, header.AppendTimeMs);
        var first = NextOffset;
        NextOffset += (ulong)count;
        _recent.Add((NextOffset - 1, entry.Index, first, LastAppendTimeMs));
        _unwrittenRecent++;
        if (header.ProducerId != 0)
        {
            Producers.Apply(header.ProducerId, header.FirstSequence, count, epoch, first, entry.Index);
        }

        SignalChanged();
        return new AppendAck(epoch, first, count);
    }

    private void SignalChanged()
    {
        if (_changed is { } changed)
        {
            _changed = null;
            changed.SetResult();
        }
    }

    public void Restore(RaftSnapshot snapshot)
    {
        // A snapshot's data is the applied state (this class's "a" record) of the replica that took it: the log before
        // it is not here, so the first readable offset moves to where the snapshot ends.
        Decode(snapshot.Data.ToArray());
        AppliedIndex = snapshot.Index;
        FirstOffset = NextOffset;
        Producers.Clear();
        _recent.Clear();
        _unwrittenRecent = 0;
        _inFlightRecent = 0;
        _dirty = true;
    }

    public bool HasUnwritten => _dirty;

    public bool TakeUnwritten(WriteBatch write)
    {
        if (!_dirty)
        {
            return false;
        }

        write.Put(_appliedKey, Encode());
        Span<byte> key = stackalloc byte[ReplicaKv.OffsetKeyBytes];
        Span<byte> value = stackalloc byte[OffsetIndexValueBytes];
        for (var i = _recent.Count - _unwrittenRecent; i < _recent.Count; i++)
        {
            var (last, index, first, time) = _recent[i];
            ReplicaKv.WriteOffsetKey(key, _storeLog, last);
            BinaryPrimitives.WriteInt64LittleEndian(value, index);
            BinaryPrimitives.WriteUInt64LittleEndian(value[8..], first);
            BinaryPrimitives.WriteInt64LittleEndian(value[16..], time);
            write.Put(key, value);
        }

        Producers.TakeUnwritten(write);

        _inFlightRecent = _unwrittenRecent;
        _dirty = false;
        return true;
    }

    public void Written()
    {
        _unwrittenRecent -= _inFlightRecent;
        _inFlightRecent = 0;
        var droppable = Math.Min(_recent.Count - _unwrittenRecent, _recent.Count - RecentEntries);
        if (droppable > 0)
        {
            _recent.RemoveRange(0, droppable);
        }
    }

    /// <summary>
    /// Adds the applied records from <paramref name="fromOffset"/> (in [FirstOffset, NextOffset]) to
    /// <paramref name="into"/>, reading the Raft log until about <paramref name="maxBytes"/> are taken (at least one
    /// record when any is there).
    /// </summary>
    public void Read(ulong fromOffset, long maxBytes, List<CommittedRecord> into)
    {
        if (fromOffset >= NextOffset)
        {
            return;
        }

        var (index, offset, time) = Locate(fromOffset);
        var budget = maxBytes;
        using var cursor = _store.ReadLog(_storeLog, (ulong)index, (ulong)AppliedIndex + 1);
        while (budget > 0 && cursor.MoveNext())
        {
            var payload = cursor.Payload;
            var data = payload[1..];
            if (payload[0] == (byte)EntryType.Normal && RecordBatchCodec.Count(data) is var count and > 0)
            {
                time = Math.Max(time, RecordBatchCodec.Header(data).AppendTimeMs);
                RecordBatchCodec.Decode(data, cursor.Epoch, offset, fromOffset, DateTimeOffset.FromUnixTimeMilliseconds(time), ref budget, into);
                offset += (ulong)count;
            }
        }
    }

    /// <summary>
    /// The first applied offset whose append time is at or after <paramref name="timeMs"/> (Unix milliseconds):
    /// <see cref="NextOffset"/> when none is; a binary search over the offset index (append times never decrease).
    /// </summary>
    public ulong FindOffset(long timeMs)
    {
        if (NextOffset == FirstOffset || LastAppendTimeMs < timeMs)
        {
            return NextOffset;
        }

        ulong lo = FirstOffset, hi = NextOffset - 1; // the answer is in [lo, hi]: the last record is at or after timeMs
        while (lo < hi)
        {
            var mid = lo + ((hi - lo) / 2);
            var (_, first, time) = Locate(mid);
            if (time >= timeMs)
            {
                hi = Math.Max(first, lo); // the entry's records share its time
            }
            else
            {
                lo = mid + 1;
            }
        }

        return lo;
    }

    /// <summary>
    /// The Raft index, first offset and append time of the applied entry holding <paramref name="offset"/> (which must
    /// be in [FirstOffset, NextOffset)).
    /// </summary>
    /// <exception cref="InvalidDataException">The offset index has no entry for it (damaged store).</exception>
    public (long Index, ulong FirstOffset, long AppendTimeMs) Locate(ulong offset)
    {
        if (_recent.Count > 0 && offset >= _recent[0].FirstOffset)
        {
            int lo = 0, hi = _recent.Count - 1;
            while (lo < hi)
            {
                var mid = (lo + hi) / 2;
                if (_recent[mid].LastOffset < offset)
                {
                    lo = mid + 1;
                }
                else
                {
                    hi = mid;
                }
            }

            return (_recent[lo].Index, _recent[lo].FirstOffset, _recent[lo].AppendTimeMs);
        }

        var prefix = ReplicaKv.Key(_storeLog, ReplicaKv.OffsetIndex);
        using var cursor = _store.ScanKv(ReplicaKv.OffsetKey(_storeLog, offset), ReplicaKv.OffsetKey(_storeLog, ulong.MaxValue));
        while (cursor.MoveNext())
        {
            if (!cursor.Key.StartsWith(prefix))
            {
                break;
            }

            var value = cursor.Value;
            if (value.Length != OffsetIndexValueBytes)
            {
                throw new InvalidDataException($"store log {_storeLog} has an offset-index entry of {value.Length} bytes (expected {OffsetIndexValueBytes})");
            }

            var first = BinaryPrimitives.ReadUInt64LittleEndian(value[8..]);
            if (first <= offset)
            {
                return (BinaryPrimitives.ReadInt64LittleEndian(value), first, BinaryPrimitives.ReadInt64LittleEndian(value[16..]));
            }

            break;
        }

        throw new InvalidDataException($"store log {_storeLog} has no offset-index entry for offset {offset} (applied up to {NextOffset})");
    }

    private byte[] Encode()
    {
        var buffer = new byte[AppliedHeaderBytes + _epochs.Count * 16];
        var span = buffer.AsSpan();
        BinaryPrimitives.WriteInt64LittleEndian(span, AppliedIndex);
        BinaryPrimitives.WriteUInt64LittleEndian(span[8..], FirstOffset);
        BinaryPrimitives.WriteUInt64LittleEndian(span[16..], NextOffset);
        BinaryPrimitives.WriteInt64LittleEndian(span[24..], LastAppendTimeMs);
        BinaryPrimitives.WriteInt32LittleEndian(span[32..], _epochs.Count);
        var at = AppliedHeaderBytes;
        foreach (var (epoch, start) in _epochs)
        {
            BinaryPrimitives.WriteUInt64LittleEndian(span[at..], epoch);
            BinaryPrimitives.WriteUInt64LittleEndian(span[(at + 8)..], start);
            at += 16;
        }

        return buffer;
    }

    private void Decode(byte[] buffer)
    {
        var span = buffer.AsSpan();
        if (span.Length < AppliedHeaderBytes)
        {
            throw new InvalidDataException($"the applied state of store log {_storeLog} has {span.Length} bytes");
        }

        AppliedIndex = BinaryPrimitives.ReadInt64LittleEndian(span);
        FirstOffset = BinaryPrimitives.ReadUInt64LittleEndian(span[8..]);
        NextOffset = BinaryPrimitives.ReadUInt64LittleEndian(span[16..]);
        LastAppendTimeMs = BinaryPrimitives.ReadInt64LittleEndian(span[24..]);
        var count = BinaryPrimitives.ReadInt32LittleEndian(span[32..]);
        if (span.Length != AppliedHeaderBytes + count * 16)
        {
            throw new InvalidDataException($"the applied state of store log {_storeLog} is damaged ({span.Length} bytes for {count} epochs)");
        }

        _epochs.Clear();
        for (var i = 0; i < count; i++)
        {
            var at = AppliedHeaderBytes + (i * 16);
            _epochs.Add((BinaryPrimitives.ReadUInt64LittleEndian(span[at..]), BinaryPrimitives.ReadUInt64LittleEndian(span[(at + 8)..])));
        }
    }
}
