namespace Pyralog.Consensus;

/// <summary>
/// In-memory <see cref="IRaftStorage"/>: entries in one array with a moving head so compaction and appends are
/// amortized O(1) and allocation-free on the steady path, plus the durable <see cref="LogMetadata"/> kept from the
/// same writes. A write is durable when the call returns. Used by tests, the simulator (one instance per "disk")
/// and the benchmark.
/// </summary>
public sealed class MemoryRaftStorage : IRaftStorage
{
    // Invariant: _entries[_head .. _head + _count) are the entries (Metadata.Snapshot.Index, Metadata.LastIndex].
    private LogEntry[] _entries = new LogEntry[64];
    private int _head;
    private int _count;

    public HardState HardState { get; private set; }

    public LogMetadata Metadata { get; } = new(RaftSnapshot.Empty);

    public RaftSnapshot Snapshot => Metadata.Snapshot;

    public long LastIndex => Metadata.LastIndex;

    /// <summary>
    /// A bootstrapped member's storage: the initial configuration as committed entry 1 of term 1, identical on every
    /// bootstrapped member, so a member that later joins with an empty disk learns it from the log.
    /// </summary>
    public static MemoryRaftStorage Bootstrap(ClusterConfig config)
    {
        var storage = new MemoryRaftStorage();
        storage.Append([new LogEntry(1, 1, EntryType.Config, config.Encode())]);
        storage.SetHardState(new HardState(1, 0, 1));
        return storage;
    }

    /// <summary>Writes a whole batch: snapshot, entries, hard state (each durable as it returns).</summary>
    public void Write(PersistBatch batch)
    {
        ArgumentNullException.ThrowIfNull(batch);
        if (batch.Snapshot is not null)
        {
            InstallSnapshot(batch.Snapshot);
        }

        Append(batch.Entries);
        if (batch.HardStateChanged)
        {
            SetHardState(batch.HardState);
        }
    }

    public long Term(long index)
    {
        if (index < Snapshot.Index || index > LastIndex)
        {
            throw new ArgumentOutOfRangeException(nameof(index), $"index {index} outside [{Snapshot.Index}, {LastIndex}]");
        }

        return Metadata.Term(index);
    }

    public void ReadEntries(long lo, long hi, long maxBytes, List<LogEntry> into)
    {
        ArgumentNullException.ThrowIfNull(into);
        if (lo <= Snapshot.Index || hi > LastIndex + 1)
        {
            throw new ArgumentOutOfRangeException(nameof(lo), $"entries [{lo}, {hi}) outside ({Snapshot.Index}, {LastIndex}]");
        }

        long bytes = 0;
        for (var i = lo; i < hi; i++)
        {
            var e = _entries[_head + (int)(i - Snapshot.Index - 1)];
            bytes += e.Size;
            if (bytes > maxBytes && i > lo)
            {
                return;
            }

            into.Add(e);
        }
    }

    public void SetHardState(HardState state) => HardState = state;

    public void Append(ReadOnlySpan<LogEntry> entries)
    {
        if (entries.IsEmpty)
        {
            return;
        }

        var first = entries[0].Index;
        if (first <= Snapshot.Index || first > LastIndex + 1)
        {
            throw new ArgumentOutOfRangeException(nameof(entries), $"append at {first} outside ({Snapshot.Index}, {LastIndex + 1}]");
        }

        var keep = (int)(first - Snapshot.Index - 1);
        var needed = keep + entries.Length;
        if (_head + needed > _entries.Length)
        {
            var grown = needed * 2 > _entries.Length ? new LogEntry[Math.Max(needed * 2, 64)] : _entries;
            Array.Copy(_entries, _head, grown, 0, keep);
            if (ReferenceEquals(grown, _entries))
            {
                Array.Clear(_entries, keep, _entries.Length - keep);
            }

            _entries = grown;
            _head = 0;
        }

        entries.CopyTo(_entries.AsSpan(_head + keep));
        if (needed < _count)
        {
            Array.Clear(_entries, _head + needed, _count - needed);
        }

        _count = needed;
        Metadata.Append(entries);
    }

    /// <summary>Replaces the whole log by a snapshot received from a leader.</summary>
    public void InstallSnapshot(RaftSnapshot snapshot)
    {
        Array.Clear(_entries);
        _head = 0;
        _count = 0;
        Metadata.Restore(snapshot);
    }

    /// <summary>Records a snapshot the application took locally (<see cref="RaftNode.CreateSnapshot"/>) and drops the entries it covers.</summary>
    public void Compact(RaftSnapshot snapshot)
    {
        ArgumentNullException.ThrowIfNull(snapshot);
        if (snapshot.Index <= Snapshot.Index)
        {
            return;
        }

        if (snapshot.Index > LastIndex)
        {
            throw new ArgumentOutOfRangeException(nameof(snapshot), $"snapshot {snapshot.Index} beyond last index {LastIndex}");
        }

        var drop = (int)(snapshot.Index - Snapshot.Index);
        Array.Clear(_entries, _head, drop);
        _head += drop;
        _count -= drop;
        Metadata.Compact(snapshot);
    }
}
