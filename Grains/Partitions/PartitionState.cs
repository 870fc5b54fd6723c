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
 * keeps the offset index: per record entry, a key "o ‖ last offset" → (Raft index, first offset, append time, record
 * bytes before the entry) in the store, plus the recent ones in memory. The index and the applied state ("a") are
 * written unsynced after each apply pass: both can be rebuilt from the log (or the snapshot and the log after it), and
 * after a crash the node hands out again the entries after the stored applied index (RaftOptions.Applied), which
 * re-derives exactly the same keys.
 *
 * Retention and compaction: a retention command (RetentionCommand, proposed by the leader) moves the first retained
 * offset to the start of the entry holding its offset (whole entries: an entry's records go together), or to the end
 * when it names the end. Applying it reads no clock, so every replica moves to the same offset at the same index.
 * It also asks for the Raft log to be compacted up to the entry before the first retained one (TakeCompaction): the
 * snapshot's data is this state as it was at that index — epochs, offsets, append time, byte count and the producer
 * table — computed by replaying the entries since the previous snapshot into a scratch state (the same Apply, so the
 * image is exactly what any replica had at that index). A replica restored from it (Restore) then applies the
 * entries after it like everyone else, and serves reads from its first offset. Reads below the first retained offset
 * are refused; the offset-index keys of dropped entries are deleted with the next write of the applied state. That
 * write goes ahead of the compaction; a crash between them leaves the new first offset over the old snapshot and the
 * whole log, and opening asks for the compaction again (ResumeCompaction).
 *
 * This file applies entries and writes the applied state; PartitionState.Snapshots.cs takes and restores snapshot
 * images, PartitionState.OffsetIndex.cs reads through the offset index.
 */
internal sealed partial class PartitionState : IReplicaStateMachine
{
    private const int RecentEntries = 4096;
    private const int OffsetIndexValueBytes = 32;
    private const int AppliedHeaderBytes = 52;
    private const byte SnapshotVersion = 1;

    private readonly PyramidStore _store;
    private readonly ulong _storeLog;
    private readonly byte[] _appliedKey;

    // True for a scratch state replayed to take a snapshot image: it is never written and ignores retention commands
    // (the image's first offset is its end, set when the image is taken).
    private readonly bool _scratch;

    // Invariant: sorted by LastOffset (entries applied in order), by AppendTimeMs and by BytesBefore; the last
    // _unwrittenRecent of them (or fewer) are not yet in the store's offset index, so only earlier ones may be dropped
    // from memory.
    private readonly List<(ulong LastOffset, long Index, ulong FirstOffset, long AppendTimeMs, ulong BytesBefore)> _recent = [];
    private int _unwrittenRecent;
    private int _inFlightRecent;

    // Invariant: epochs in increasing order, each with the offset its first record has (or will have); at most
    // MaxEpochs, none wholly below FirstOffset (the first one covers it). Every apply pass writes them all, so a
    // partition that saw thousands of leaders must not carry each one for ever.
    private readonly List<(ulong Epoch, ulong StartOffset)> _epochs = [];
    private bool _dirty;

    // Invariant: offset-index keys of entries that end below _dropIndexBelow are deleted by the next TakeUnwritten;
    // those below _droppedIndexBelow are deleted already (or never existed).
    private ulong _dropIndexBelow;
    private ulong _droppedIndexBelow;

    // Invariant: 0, or the Raft index a retention command asked the log to be compacted to (below AppliedIndex), or
    // on open the one a crash lost (ResumeCompaction; at most AppliedIndex).
    private long _compactTo;

    // Completed (and replaced) whenever records are applied or an epoch opens: what long polls and a new leader's
    // producer checks wait on.
    private TaskCompletionSource? _changed;

    private PartitionState(PyramidStore store, ulong storeLog, bool scratch)
    {
        _store = store;
        _storeLog = storeLog;
        _scratch = scratch;
        _appliedKey = ReplicaKv.Key(storeLog, ReplicaKv.Applied);
        Producers = scratch ? ProducerTable.Empty(storeLog) : ProducerTable.Load(store, storeLog);
    }

    public long AppliedIndex { get; private set; }

    public ulong FirstOffset { get; private set; }

    public ulong NextOffset { get; private set; }

    /// <summary>Record bytes (encoded batches) ever applied, up to <see cref="NextOffset"/>.</summary>
    public ulong TotalBytes { get; private set; }

    /// <summary>Record bytes applied before <see cref="FirstOffset"/> (dropped by retention).</summary>
    public ulong DroppedBytes { get; private set; }

    /// <summary>Record bytes the partition retains (from <see cref="FirstOffset"/> to <see cref="NextOffset"/>).</summary>
    public ulong RetainedBytes => TotalBytes - DroppedBytes;

    public ulong Epoch => _epochs.Count == 0 ? 0 : _epochs[^1].Epoch;

    /// <summary>The append time of the last record entry applied (Unix milliseconds; 0 before any).</summary>
    public long LastAppendTimeMs { get; private set; }

    public ProducerTable Producers { get; }

    /// <summary>Completes the next time records are applied or an epoch opens.</summary>
    public Task Changed => (_changed ??= new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously)).Task;

    /// <summary>How many epochs the state keeps (the latest; see <see cref="Epochs"/>).</summary>
    public const int MaxEpochs = 64;

    /// <summary>The latest epochs (at most <see cref="MaxEpochs"/>) of the retained records, oldest first, with the offset each starts at.</summary>
    public IReadOnlyList<(ulong Epoch, ulong StartOffset)> Epochs => _epochs;

    public static async Task<PartitionState> LoadAsync(PyramidStore store, ulong storeLog)
    {
        var state = new PartitionState(store, storeLog, scratch: false);
        if (await store.GetAsync(ReplicaKv.Key(storeLog, ReplicaKv.Applied)).ConfigureAwait(false) is { } applied)
        {
            state.Decode(applied);
        }

        return state;
    }

    /// <summary>
    /// The state of a replica whose Raft state <paramref name="storage"/> holds: the stored applied state, or its
    /// snapshot's when that is further (the applied state is written unsynced, so a crash can leave it behind the
    /// snapshot, whose entries are gone). A compaction a crash lost is asked for again (see <see cref="ResumeCompaction"/>).
    /// </summary>
    /// <exception cref="InvalidDataException">The stored state or snapshot is damaged (named).</exception>
    public static async Task<PartitionState> OpenAsync(PyramidStore store, ReplicaStorage storage)
    {
        var state = await LoadAsync(store, storage.StoreLog).ConfigureAwait(false);
        if (storage.Metadata.Snapshot is { Index: > 0 } snapshot && snapshot.Index > state.AppliedIndex)
        {
            state.Restore(snapshot);
        }
        else
        {
            state.ResumeCompaction(storage.Metadata.Snapshot);
        }

        return state;
    }

    /// <summary>
    /// Asks again for the compaction of records retention dropped that the log after <paramref name="snapshot"/> still
    /// holds. The applied state is written ahead of the compaction its retention asked for (ReplicaDriver), so a crash
    /// between the two keeps the new first offset and the old snapshot; the command is not applied again (its index is
    /// applied), and nothing else would compact until the next one (never, for an idle partition). The point is the
    /// entry before the first retained one (found in the offset index, which that write left exactly right), or the
    /// applied index when no record is retained (every entry up to it holds only dropped records; that index is all the
    /// state knows: the command's own is not kept). Entries up to it are applied, and the image replays them as usual.
    /// </summary>
    private void ResumeCompaction(RaftSnapshot snapshot)
    {
        var logStartsAt = snapshot.Index > 0 ? ImageNextOffset(snapshot.Data.Span) : 0;
        if (FirstOffset <= logStartsAt)
        {
            return; // the log after the snapshot holds no dropped record
        }

        _compactTo = FirstOffset < NextOffset ? LocateEntry(FirstOffset).Index - 1 : AppliedIndex;
    }

    public object? Apply(in LogEntry entry) => Apply(entry.Index, entry.Term, entry.Type, entry.Data.Span);

    private object? Apply(long index, long term, EntryType type, ReadOnlySpan<byte> data)
    {
        if (index <= AppliedIndex)
        {
            return null;
        }

        if (type == EntryType.Normal && !data.IsEmpty && data[0] is not RecordBatchCodec.RecordsKind and not RetentionCommand.Kind)
        {
            // Skipped, it would be applied here and not on a replica of a newer build: the replicas would disagree for good.
            // Refused, the replica stops (and retries from its durable state) until this silo runs a build that knows it.
            throw new InvalidDataException(
                $"entry {index} of store log {_storeLog} is of kind {data[0]}, which this build does not know (a newer build wrote it): upgrade every silo before using what it adds");
        }

        AppliedIndex = index;
        _dirty = true;
        if (type != EntryType.Normal)
        {
            return null;
        }

        var epoch = (ulong)term;
        if (epoch > Epoch)
        {
            _epochs.Add((epoch, NextOffset));
            if (_epochs.Count > MaxEpochs)
            {
                _epochs.RemoveAt(0);
            }

            SignalChanged();
        }

        if (RetentionCommand.TryDecode(data, out var retainFrom))
        {
            Retain(retainFrom, index);
            return null;
        }

        var count = RecordBatchCodec.Count(data);
        if (count == 0)
        {
            return null;
        }

        var header = RecordBatchCodec.Header(data);
        LastAppendTimeMs = Math.Max(LastAppendTimeMs, header.AppendTimeMs);
        var first = NextOffset;
        NextOffset += (ulong)count;
        var bytesBefore = TotalBytes;
        TotalBytes += (ulong)data.Length;
        _recent.Add((NextOffset - 1, index, first, LastAppendTimeMs, bytesBefore));
        _unwrittenRecent++;
        if (header.ProducerId != 0)
        {
            Producers.Apply(header.ProducerId, header.FirstSequence, count, epoch, first, index);
        }

        SignalChanged();
        return new AppendAck(epoch, first, count);
    }

    /// <summary>
    /// Applies a retention command of entry <paramref name="index"/>: the first retained offset moves to the start of
    /// the entry holding <paramref name="retainFrom"/> (or to the end when it is at or past it), never back; the log
    /// may then be compacted up to the entry before the first retained one.
    /// </summary>
    private void Retain(ulong retainFrom, long index)
    {
        if (_scratch || retainFrom <= FirstOffset)
        {
            return;
        }

        ulong first, bytesBefore;
        long compactTo;
        if (retainFrom >= NextOffset)
        {
            (first, bytesBefore, compactTo) = (NextOffset, TotalBytes, index - 1);
            if (first == FirstOffset)
            {
                return; // nothing is retained already
            }
        }
        else
        {
            var entry = LocateEntry(retainFrom);
            (first, bytesBefore, compactTo) = (entry.FirstOffset, entry.BytesBefore, entry.Index - 1);
            if (first <= FirstOffset)
            {
                return;
            }
        }

        FirstOffset = first;
        DroppedBytes = bytesBefore;
        while (_epochs.Count > 1 && _epochs[1].StartOffset <= first)
        {
            _epochs.RemoveAt(0); // every record of it was dropped
        }

        _dropIndexBelow = first;
        _compactTo = Math.Max(_compactTo, compactTo);
        SignalChanged();
    }

    private void SignalChanged()
    {
        if (_changed is { } changed)
        {
            _changed = null;
            changed.SetResult();
        }
    }

    public bool HasUnwritten => _dirty;

    public bool TakeUnwritten(WriteBatch write)
    {
        if (!_dirty)
        {
            return false;
        }

        write.Put(_appliedKey, Encode());
        if (_dropIndexBelow > _droppedIndexBelow)
        {
            DeleteOffsetIndex(write, _droppedIndexBelow, _dropIndexBelow);
            _droppedIndexBelow = _dropIndexBelow;
        }

        Span<byte> key = stackalloc byte[ReplicaKv.OffsetKeyBytes];
        Span<byte> value = stackalloc byte[OffsetIndexValueBytes];
        for (var i = _recent.Count - _unwrittenRecent; i < _recent.Count; i++)
        {
            var (last, index, first, time, bytesBefore) = _recent[i];
            if (last < FirstOffset)
            {
                continue; // dropped by retention before it was written
            }

            ReplicaKv.WriteOffsetKey(key, _storeLog, last);
            BinaryPrimitives.WriteInt64LittleEndian(value, index);
            BinaryPrimitives.WriteUInt64LittleEndian(value[8..], first);
            BinaryPrimitives.WriteInt64LittleEndian(value[16..], time);
            BinaryPrimitives.WriteUInt64LittleEndian(value[24..], bytesBefore);
            write.Put(key, value);
        }

        Producers.TakeUnwritten(write);

        _inFlightRecent = _unwrittenRecent;
        _dirty = false;
        return true;
    }

    /// <summary>Deletes the offset-index keys of entries whose last offset is in [<paramref name="from"/>, <paramref name="below"/>).</summary>
    private void DeleteOffsetIndex(WriteBatch write, ulong from, ulong below)
    {
        var prefix = ReplicaKv.Key(_storeLog, ReplicaKv.OffsetIndex);
        using var cursor = _store.ScanKv(ReplicaKv.OffsetKey(_storeLog, from), ReplicaKv.OffsetKey(_storeLog, below));
        while (cursor.MoveNext())
        {
            if (!cursor.Key.StartsWith(prefix) || BinaryPrimitives.ReadUInt64BigEndian(cursor.Key[prefix.Length..]) >= below)
            {
                break;
            }

            write.Delete(cursor.Key);
        }
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

    private byte[] Encode()
    {
        var buffer = new byte[AppliedHeaderBytes + _epochs.Count * 16];
        var span = buffer.AsSpan();
        BinaryPrimitives.WriteInt64LittleEndian(span, AppliedIndex);
        BinaryPrimitives.WriteUInt64LittleEndian(span[8..], FirstOffset);
        BinaryPrimitives.WriteUInt64LittleEndian(span[16..], NextOffset);
        BinaryPrimitives.WriteInt64LittleEndian(span[24..], LastAppendTimeMs);
        BinaryPrimitives.WriteUInt64LittleEndian(span[32..], TotalBytes);
        BinaryPrimitives.WriteUInt64LittleEndian(span[40..], DroppedBytes);
        BinaryPrimitives.WriteInt32LittleEndian(span[48..], _epochs.Count);
        var at = AppliedHeaderBytes;
        foreach (var (epoch, start) in _epochs)
        {
            BinaryPrimitives.WriteUInt64LittleEndian(span[at..], epoch);
            BinaryPrimitives.WriteUInt64LittleEndian(span[(at + 8)..], start);
            at += 16;
        }

        return buffer;
    }

    private void Decode(ReadOnlySpan<byte> span)
    {
        if (span.Length < AppliedHeaderBytes)
        {
            throw new InvalidDataException($"the applied state of store log {_storeLog} has {span.Length} bytes");
        }

        AppliedIndex = BinaryPrimitives.ReadInt64LittleEndian(span);
        FirstOffset = BinaryPrimitives.ReadUInt64LittleEndian(span[8..]);
        NextOffset = BinaryPrimitives.ReadUInt64LittleEndian(span[16..]);
        LastAppendTimeMs = BinaryPrimitives.ReadInt64LittleEndian(span[24..]);
        TotalBytes = BinaryPrimitives.ReadUInt64LittleEndian(span[32..]);
        DroppedBytes = BinaryPrimitives.ReadUInt64LittleEndian(span[40..]);
        var count = BinaryPrimitives.ReadInt32LittleEndian(span[48..]);
        if (count < 0 || span.Length != AppliedHeaderBytes + count * 16)
        {
            throw new InvalidDataException($"the applied state of store log {_storeLog} is damaged ({span.Length} bytes for {count} epochs)");
        }

        _epochs.Clear();
        for (var i = Math.Max(0, count - MaxEpochs); i < count; i++) // the latest: a state written before the cap held them all
        {
            var at = AppliedHeaderBytes + (i * 16);
            _epochs.Add((BinaryPrimitives.ReadUInt64LittleEndian(span[at..]), BinaryPrimitives.ReadUInt64LittleEndian(span[(at + 8)..])));
        }
    }
}
