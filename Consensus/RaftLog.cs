namespace Pyralog.Consensus;

/// <summary>
/// A node's view of its log: the durable <see cref="IRaftStorage"/> plus the unstable tail (entries and possibly a
/// received snapshot) that the host has not persisted yet. Entries at or after <see cref="_offset"/> come from the
/// unstable buffer and shadow anything the storage still holds at those indexes, so a conflicting suffix is
/// replaced logically at once and physically when the host persists the next <see cref="Ready"/>. Nothing here is
/// ever acknowledged to a peer before it is durable, because acknowledgements leave only in a Ready whose entries
/// are persisted first.
/// </summary>
internal sealed class RaftLog
{
    private readonly IRaftStorage _storage;
    private LogEntry[] _unstable = new LogEntry[64];
    private int _head;
    private int _count;
    private long _offset;

    public RaftLog(IRaftStorage storage)
    {
        _storage = storage;
        _offset = storage.LastIndex + 1;
        Committed = Math.Max(storage.HardState.Commit, storage.Snapshot.Index);
        Applied = storage.Snapshot.Index;
    }

    /// <summary>A snapshot received from the leader and not yet persisted by the host.</summary>
    public RaftSnapshot? PendingSnapshot { get; private set; }

    public long Committed { get; set; }

    /// <summary>Highest index handed to the application (after <see cref="RaftNode.Advance"/>).</summary>
    public long Applied { get; set; }

    public RaftSnapshot CurrentSnapshot => PendingSnapshot ?? _storage.Snapshot;

    public long SnapshotIndex => CurrentSnapshot.Index;

    public long FirstIndex => SnapshotIndex + 1;

    public long LastIndex => _count > 0 ? _offset + _count - 1 : PendingSnapshot?.Index ?? _storage.LastIndex;

    /// <summary>The last index the host has made durable.</summary>
    public long StableLastIndex => PendingSnapshot is null ? _offset - 1 : PendingSnapshot.Index;

    public long LastTerm => Term(LastIndex);

    public int UnstableCount => _count;

    public ArraySegment<LogEntry> Unstable => new(_unstable, _head, _count);

    /// <summary>The term at <paramref name="index"/>, or 0 when the index is beyond the log or compacted away.</summary>
    public long Term(long index)
    {
        var snap = CurrentSnapshot;
        if (index == snap.Index)
        {
            return snap.Term;
        }

        if (index < snap.Index || index > LastIndex)
        {
            return 0;
        }

        return index >= _offset ? _unstable[_head + (int)(index - _offset)].Term : _storage.Term(index);
    }

    public bool MatchTerm(long index, long term) => index >= SnapshotIndex && index <= LastIndex && Term(index) == term;

    /// <summary>Raft's up-to-date check: is a candidate log ending at (index, term) at least as current as ours?</summary>
    public bool IsUpToDate(long index, long term)
    {
        var lastTerm = LastTerm;
        return term > lastTerm || (term == lastTerm && index >= LastIndex);
    }

    /// <summary>The largest index ≤ <paramref name="index"/> whose term is ≤ <paramref name="term"/> (conflict hints).</summary>
    public long FindConflictByTerm(long index, long term)
    {
        index = Math.Min(index, LastIndex);
        while (index > SnapshotIndex && Term(index) > term)
        {
            index--;
        }

        return index;
    }

    /// <summary>Leader append: entries already carry their index and term.</summary>
    public void AppendUnstable(ReadOnlySpan<LogEntry> entries)
    {
        if (entries.IsEmpty)
        {
            return;
        }

        var first = entries[0].Index;
        if (first <= Committed)
        {
            throw new InvalidOperationException($"attempt to overwrite committed index {first} (commit {Committed})");
        }

        if (first < _offset)
        {
            // Replacing entries the storage holds: the unstable tail restarts at 'first'.
            _head = 0;
            _count = 0;
            _offset = first;
        }
        else if (first > _offset + _count)
        {
            throw new InvalidOperationException($"gap appending {first} after {LastIndex}");
        }
        else
        {
            _count = (int)(first - _offset);
        }

        EnsureCapacity(_count + entries.Length);
        entries.CopyTo(_unstable.AsSpan(_head + _count));
        _count += entries.Length;
    }

    /// <summary>
    /// Follower append of entries following (prevIndex, prevTerm) that matched: skips entries already present,
    /// truncates at the first conflict. Returns the index of the first conflicting entry written (0 if none).
    /// </summary>
    public long AppendFollower(ReadOnlySpan<LogEntry> entries)
    {
        for (var i = 0; i < entries.Length; i++)
        {
            var e = entries[i];
            if (e.Index > LastIndex || Term(e.Index) != e.Term)
            {
                AppendUnstable(entries[i..]);
                return e.Index;
            }
        }

        return 0;
    }

    /// <summary>Entries [lo, hi) up to about maxBytes, from storage then the unstable tail.</summary>
    public void Entries(long lo, long hi, long maxBytes, List<LogEntry> into)
    {
        if (lo < FirstIndex)
        {
            throw new InvalidOperationException($"entries from {lo} are compacted (first index {FirstIndex})");
        }

        long bytes = 0;
        if (lo < _offset)
        {
            var storageHi = Math.Min(hi, _offset);
            var before = into.Count;
            _storage.ReadEntries(lo, storageHi, maxBytes, into);
            for (var i = before; i < into.Count; i++)
            {
                bytes += into[i].Size;
            }

            if (into.Count - before < storageHi - lo)
            {
                return;
            }

            lo = storageHi;
        }

        for (var i = lo; i < hi; i++)
        {
            var e = _unstable[_head + (int)(i - _offset)];
            bytes += e.Size;
            if (bytes > maxBytes && into.Count > 0)
            {
                return;
            }

            into.Add(e);
        }
    }

    public void Restore(RaftSnapshot snapshot)
    {
        PendingSnapshot = snapshot;
        _head = 0;
        _count = 0;
        _offset = snapshot.Index + 1;
        Committed = snapshot.Index;
    }

    /// <summary>The host persisted the first <paramref name="count"/> unstable entries and the pending snapshot.</summary>
    public void StableTo(int count, bool snapshotPersisted)
    {
        if (snapshotPersisted)
        {
            PendingSnapshot = null;
        }

        Array.Clear(_unstable, _head, count);
        _head += count;
        _count -= count;
        _offset += count;
        if (_count == 0)
        {
            _head = 0;
        }
    }

    private void EnsureCapacity(int needed)
    {
        if (_head + needed <= _unstable.Length)
        {
            return;
        }

        var target = needed * 2 > _unstable.Length ? new LogEntry[needed * 2] : _unstable;
        Array.Copy(_unstable, _head, target, 0, _count);
        if (!ReferenceEquals(target, _unstable))
        {
            Array.Clear(_unstable);
        }
        else
        {
            Array.Clear(_unstable, _count, _unstable.Length - _count);
        }

        _unstable = target;
        _head = 0;
    }
}
