namespace Pyralog.Consensus;

/// <summary>
/// A node's in-memory view of its log, for asynchronous persistence. Terms and the configuration history come from
/// <see cref="Meta"/> (term runs, never the disk). Entries come from a tail cache that holds every entry not yet known
/// durable and, up to <see cref="RaftOptions.MaxCachedBytes"/>, recent durable ones; older entries are read from the
/// host through <see cref="IRaftLogReader"/>. Three marks split the tail: durable (<see cref="StableLastIndex"/>),
/// handed to the host in a <see cref="PersistBatch"/> but not yet durable, and not yet handed out. Overwriting a
/// conflicting suffix changes the view at once (and pulls both marks back below it); the disk follows when the host
/// writes the next batch, whose first entry truncates the old suffix there. Nothing here is acknowledged to a peer
/// before it is durable: acknowledgements wait in <see cref="PersistBatch.MessagesAfterPersist"/>.
/// </summary>
internal sealed class RaftLog
{
    private readonly IRaftLogReader _reader;
    private readonly long _maxCachedBytes;

    // Invariant: the cache holds exactly the entries [_cacheFirst, LastIndex] at _cache[_head .. _head + _count),
    // and _cacheFirst <= _stable + 1: every entry not known durable is cached, so the reader is only asked for
    // durable entries. Slots outside that range are cleared, so they pin no buffer (a follower's entries are slices
    // of the message that carried them).
    private LogEntry[] _cache = new LogEntry[64];
    private int _head;
    private int _count;
    private long _cacheFirst;

    // Invariant: the sum of LogEntry.Size over the cached entries. Above _maxCachedBytes, durable entries leave the
    // cache oldest first (entries not yet durable stay, whatever their size).
    private long _cachedBytes;

    // Invariant: SnapshotIndex <= _stable <= _inProgress <= LastIndex. Entries (_stable, _inProgress] are in batches
    // the host is writing; (_inProgress, LastIndex] have not been handed out.
    private long _stable;
    private long _inProgress;

    // Invariant: while PendingSnapshot is not null the log starts at it but it is not durable yet; nothing is applied
    // past it and _snapshotHandedOut says whether a batch carries it.
    private bool _snapshotHandedOut;

    public RaftLog(IRaftStorage storage, long maxCachedBytes, long applied)
    {
        _reader = storage;
        _maxCachedBytes = maxCachedBytes;
        Meta = storage.Metadata.Clone();
        _cacheFirst = Meta.LastIndex + 1;
        _stable = Meta.LastIndex;
        _inProgress = Meta.LastIndex;
        Committed = Math.Max(storage.HardState.Commit, Meta.Snapshot.Index);
        if (applied > Committed)
        {
            throw new ArgumentOutOfRangeException(nameof(applied), $"applied index {applied} is beyond the persisted commit index {Committed}");
        }

        Applied = Math.Max(Meta.Snapshot.Index, applied);
    }

    /// <summary>Term runs, configuration history and the current snapshot of this view.</summary>
    public LogMetadata Meta { get; }

    /// <summary>A snapshot received from the leader that is not durable yet.</summary>
    public RaftSnapshot? PendingSnapshot { get; private set; }

    public long Committed { get; set; }

    /// <summary>Highest index handed to the application (after <see cref="RaftNode.Advance"/>).</summary>
    public long Applied { get; set; }

    public RaftSnapshot CurrentSnapshot => Meta.Snapshot;

    public long SnapshotIndex => Meta.Snapshot.Index;

    public long FirstIndex => SnapshotIndex + 1;

    public long LastIndex => Meta.LastIndex;

    /// <summary>The last index the host has made durable (consistent with this view).</summary>
    public long StableLastIndex => PendingSnapshot is null ? _stable : 0;

    public long LastTerm => Term(LastIndex);

    /// <summary>Entries or a snapshot not yet handed out in a batch.</summary>
    public bool HasUnpersisted => _inProgress < LastIndex || (PendingSnapshot is not null && !_snapshotHandedOut);

    /// <summary>The highest index that may be handed to the application: committed and durable here.</summary>
    public long ApplyLimit => PendingSnapshot is not null ? Applied : Math.Min(Committed, _stable);

    /// <summary>The term at <paramref name="index"/>, or 0 when the index is beyond the log or compacted away.</summary>
    public long Term(long index) => Meta.Term(index);

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

    /// <summary>
    /// Writes entries (they carry their index and term) at entries[0].Index, replacing everything from there.
    /// Returns true when the configuration history changed.
    /// </summary>
    public bool Append(ReadOnlySpan<LogEntry> entries, RaftTestBugs bugs)
    {
        var first = entries[0].Index;
        if (first <= Committed)
        {
            throw new InvalidOperationException($"attempt to overwrite committed index {first} (commit {Committed})");
        }

        if (first > LastIndex + 1)
        {
            throw new InvalidOperationException($"gap appending {first} after {LastIndex}");
        }

        var (oldHead, oldCount) = (_head, _count);
        if (first < _cacheFirst)
        {
            _head = 0;
            _count = 0;
            _cacheFirst = first;
            _cachedBytes = 0;
        }
        else
        {
            _count = (int)(first - _cacheFirst);
            _cachedBytes -= Bytes(_head + _count, oldCount - _count);
        }

        EnsureCapacity(_count + entries.Length);
        entries.CopyTo(_cache.AsSpan(_head + _count));
        var written = _count;
        _count += entries.Length;
        _cachedBytes += Bytes(_head + written, entries.Length);
        _stable = Math.Min(_stable, first - 1);
        _inProgress = Math.Min(_inProgress, first - 1);
        if ((bugs & RaftTestBugs.KeepSuffixOnConflict) != 0 && oldCount > _count && first < LastIndex)
        {
            // The deliberate bug: the old entries behind the overwritten range stay in the log.
            _count = oldCount;
            _cachedBytes = Bytes(_head, _count);
            return Meta.Append(_cache.AsSpan(_head + written, _count - written));
        }

        var staleFrom = Math.Max(_head + _count, oldHead);
        var staleTo = Math.Min(oldHead + oldCount, _cache.Length);
        if (staleTo > staleFrom)
        {
            Array.Clear(_cache, staleFrom, staleTo - staleFrom);
        }

        return Meta.Append(entries);
    }

    /// <summary>
    /// Follower append of entries following a matching (prevIndex, prevTerm): skips entries already present,
    /// replaces from the first conflict. Returns the index of the first entry written (0 if none).
    /// </summary>
    public long AppendFollower(ReadOnlySpan<LogEntry> entries, RaftTestBugs bugs)
    {
        for (var i = 0; i < entries.Length; i++)
        {
            var e = entries[i];
            if (e.Index > LastIndex || Term(e.Index) != e.Term)
            {
                Append(entries[i..], bugs);
                return e.Index;
            }
        }

        return 0;
    }

    /// <summary>Entries [lo, hi) up to about maxBytes (at least one), from the host's disk then the cache.</summary>
    public void Entries(long lo, long hi, long maxBytes, List<LogEntry> into)
    {
        if (lo < FirstIndex)
        {
            throw new InvalidOperationException($"entries from {lo} are compacted (first index {FirstIndex})");
        }

        long bytes = 0;
        if (lo < _cacheFirst)
        {
            var diskHi = Math.Min(hi, _cacheFirst);
            var before = into.Count;
            _reader.ReadEntries(lo, diskHi, maxBytes, into);
            for (var i = before; i < into.Count; i++)
            {
                bytes += into[i].Size;
            }

            if (into.Count - before < diskHi - lo)
            {
                return;
            }

            lo = diskHi;
        }

        for (var i = lo; i < hi; i++)
        {
            var e = _cache[_head + (int)(i - _cacheFirst)];
            bytes += e.Size;
            if (bytes > maxBytes && into.Count > 0)
            {
                return;
            }

            into.Add(e);
        }
    }

    /// <summary>The log becomes <paramref name="snapshot"/> (from the leader); durable once its batch is.</summary>
    public void Restore(RaftSnapshot snapshot)
    {
        PendingSnapshot = snapshot;
        _snapshotHandedOut = false;
        Meta.Restore(snapshot);
        Array.Clear(_cache, _head, _count);
        _head = 0;
        _count = 0;
        _cachedBytes = 0;
        _cacheFirst = snapshot.Index + 1;
        _stable = snapshot.Index;
        _inProgress = snapshot.Index;
        Committed = snapshot.Index;
    }

    /// <summary>A local snapshot of applied (hence durable) state: entries up to its index leave the view.</summary>
    public void Compact(RaftSnapshot snapshot)
    {
        Meta.Compact(snapshot);
        if (_cacheFirst <= snapshot.Index)
        {
            Evict((int)(snapshot.Index - _cacheFirst + 1));
        }
    }

    /// <summary>The snapshot not yet handed out, if any; it is in a batch from now on.</summary>
    public RaftSnapshot? TakeSnapshotToPersist()
    {
        if (PendingSnapshot is null || _snapshotHandedOut)
        {
            return null;
        }

        _snapshotHandedOut = true;
        return PendingSnapshot;
    }

    /// <summary>A copy of the entries not yet handed out (the host keeps it while the cache moves on).</summary>
    public LogEntry[] TakeEntriesToPersist()
    {
        if (_inProgress >= LastIndex)
        {
            return [];
        }

        var from = (int)(_inProgress + 1 - _cacheFirst);
        var entries = _cache.AsSpan(_head + from, _count - from).ToArray();
        _inProgress = LastIndex;
        return entries;
    }

    /// <summary>A batch is durable: believe its last index only if this view still has the same entry there.</summary>
    public void Persisted(in PersistMark mark)
    {
        if (mark.SnapshotIndex != 0 && PendingSnapshot is { } pending && pending.Index == mark.SnapshotIndex && _snapshotHandedOut)
        {
            PendingSnapshot = null;
            Applied = Math.Max(Applied, pending.Index);
        }

        if (PendingSnapshot is null && mark.LastIndex > _stable && mark.LastIndex <= _inProgress && Term(mark.LastIndex) == mark.LastTerm)
        {
            _stable = mark.LastIndex;
            EvictBeyondBudget();
        }
    }

    /// <summary>Durable entries leave the cache, oldest first, until it is within its byte budget.</summary>
    private void EvictBeyondBudget()
    {
        var durable = (int)Math.Min(_count, _stable - _cacheFirst + 1);
        var drop = 0;
        var bytes = _cachedBytes;
        while (drop < durable && bytes > _maxCachedBytes)
        {
            bytes -= _cache[_head + drop].Size;
            drop++;
        }

        Evict(drop);
    }

    private long Bytes(int from, int count)
    {
        long bytes = 0;
        foreach (ref readonly var e in _cache.AsSpan(from, count))
        {
            bytes += e.Size;
        }

        return bytes;
    }

    private void Evict(int drop)
    {
        if (drop <= 0)
        {
            return;
        }

        _cachedBytes -= Bytes(_head, drop);
        Array.Clear(_cache, _head, drop);
        _head += drop;
        _count -= drop;
        _cacheFirst += drop;
        if (_count == 0)
        {
            _head = 0;
        }
    }

    private void EnsureCapacity(int needed)
    {
        if (_head + needed <= _cache.Length)
        {
            return;
        }

        var target = needed * 2 > _cache.Length ? new LogEntry[needed * 2] : _cache;
        Array.Copy(_cache, _head, target, 0, _count);
        if (!ReferenceEquals(target, _cache))
        {
            Array.Clear(_cache);
        }
        else
        {
            Array.Clear(_cache, _count, _cache.Length - _count);
        }

        _cache = target;
        _head = 0;
    }
}
