namespace Pyralog.Consensus;

/// <summary>
/// What Raft needs to know about a log without reading its entries: the snapshot it starts from, the term of every
/// index as runs of equal terms, and the configuration history (every configuration entry after the snapshot). The
/// node keeps one in memory as its view of the log, so term lookups (vote checks, conflict hints, log matching) never
/// touch the disk; the host keeps one durable beside the entries it persists, updated from the same write batches
/// (<see cref="Append"/>, <see cref="Restore"/>, <see cref="Compact"/>), so a restart reads it back instead of
/// scanning the log. Both are derived from entries by the same code, so they cannot disagree.
/// The steady path (appending entries of the current term, no configuration) allocates nothing.
/// </summary>
public sealed class LogMetadata
{
    // Invariant: runs are sorted by FirstIndex, consecutive runs have different terms, the first run starts at
    // Snapshot.Index (the snapshot's own term), and the last run ends at LastIndex.
    private readonly List<TermRun> _runs = [];

    // Invariant: configs[0] is the snapshot's configuration at the snapshot index; later ones are the
    // configuration entries in (Snapshot.Index, LastIndex], in index order.
    private readonly List<ConfigEntry> _configs = [];

    public LogMetadata(RaftSnapshot snapshot)
    {
        ArgumentNullException.ThrowIfNull(snapshot);
        Restore(snapshot);
    }

    /// <summary>The snapshot the log starts after (its data may be empty here: only index, term and configuration count).</summary>
    public RaftSnapshot Snapshot { get; private set; } = RaftSnapshot.Empty;

    public long LastIndex { get; private set; }

    public IReadOnlyList<TermRun> Runs => _runs;

    public IReadOnlyList<ConfigEntry> Configs => _configs;

    /// <summary>The configuration in force at the end of the log.</summary>
    public ClusterConfig Config => _configs[^1].Config;

    /// <summary>The index of the entry that carried <see cref="Config"/>.</summary>
    public long ConfigIndex => _configs[^1].Index;

    /// <summary>
    /// Rebuilds the metadata a host persisted (<see cref="Snapshot"/>, <see cref="LastIndex"/>, <see cref="Runs"/>,
    /// <see cref="Configs"/>) without reading the log; throws when the parts contradict each other.
    /// </summary>
    public static LogMetadata FromPersisted(RaftSnapshot snapshot, long lastIndex, IReadOnlyList<TermRun> runs, IReadOnlyList<ConfigEntry> configs)
    {
        ArgumentNullException.ThrowIfNull(runs);
        ArgumentNullException.ThrowIfNull(configs);
        var meta = new LogMetadata(snapshot);
        if (runs.Count == 0 || runs[0] != new TermRun(snapshot.Index, snapshot.Term) || configs.Count == 0 || configs[0].Index != snapshot.Index ||
            lastIndex < runs[^1].FirstIndex || (configs.Count > 1 && configs[^1].Index > lastIndex))
        {
            throw new ArgumentException($"persisted log metadata does not start at snapshot ({snapshot.Index}, t{snapshot.Term}) or does not end by {lastIndex}");
        }

        for (var i = 1; i < runs.Count; i++)
        {
            if (runs[i].FirstIndex <= runs[i - 1].FirstIndex || runs[i].Term <= runs[i - 1].Term)
            {
                throw new ArgumentException($"term runs out of order at {runs[i].FirstIndex}");
            }
        }

        meta._runs.Clear();
        meta._runs.AddRange(runs);
        meta._configs.Clear();
        meta._configs.AddRange(configs);
        meta.LastIndex = lastIndex;
        return meta;
    }

    /// <summary>A copy (the node's view and the durable record never share lists).</summary>
    public LogMetadata Clone() => FromPersisted(Snapshot, LastIndex, _runs, _configs);

    /// <summary>The term at <paramref name="index"/>, or 0 outside [Snapshot.Index, LastIndex].</summary>
    public long Term(long index)
    {
        if (index < Snapshot.Index || index > LastIndex)
        {
            return 0;
        }

        // Most lookups are near the tail: look at the last run first, then search.
        if (index >= _runs[^1].FirstIndex)
        {
            return _runs[^1].Term;
        }

        int lo = 0, hi = _runs.Count - 1;
        while (lo < hi)
        {
            var mid = (lo + hi + 1) / 2;
            if (_runs[mid].FirstIndex <= index)
            {
                lo = mid;
            }
            else
            {
                hi = mid - 1;
            }
        }

        return _runs[lo].Term;
    }

    /// <summary>
    /// Records entries written at entries[0].Index, dropping everything from that index first (a conflicting suffix).
    /// Returns true when the configuration history changed (a configuration was truncated or added).
    /// </summary>
    public bool Append(ReadOnlySpan<LogEntry> entries)
    {
        if (entries.IsEmpty)
        {
            return false;
        }

        var first = entries[0].Index;
        if (first <= Snapshot.Index || first > LastIndex + 1)
        {
            throw new ArgumentOutOfRangeException(nameof(entries), $"append at {first} outside ({Snapshot.Index}, {LastIndex + 1}]");
        }

        var changed = TruncateFrom(first);
        foreach (ref readonly var e in entries)
        {
            if (e.Term != _runs[^1].Term)
            {
                _runs.Add(new TermRun(e.Index, e.Term));
            }

            if (e.Type == EntryType.Config)
            {
                _configs.Add(new ConfigEntry(e.Index, ClusterConfig.Decode(e.Data.Span)));
                changed = true;
            }
        }

        LastIndex = entries[^1].Index;
        return changed;
    }

    /// <summary>The log is replaced by <paramref name="snapshot"/> (a snapshot received from a leader, or the start).</summary>
    public void Restore(RaftSnapshot snapshot)
    {
        Snapshot = snapshot;
        LastIndex = snapshot.Index;
        _runs.Clear();
        _runs.Add(new TermRun(snapshot.Index, snapshot.Term));
        _configs.Clear();
        _configs.Add(new ConfigEntry(snapshot.Index, snapshot.Config));
    }

    /// <summary>
    /// Entries up to <paramref name="snapshot"/>.Index are dropped (a local snapshot of applied state); the
    /// configuration in force at that index becomes the base.
    /// </summary>
    public void Compact(RaftSnapshot snapshot)
    {
        if (snapshot.Index <= Snapshot.Index)
        {
            return;
        }

        if (snapshot.Index > LastIndex || Term(snapshot.Index) != snapshot.Term)
        {
            throw new ArgumentOutOfRangeException(nameof(snapshot), $"snapshot ({snapshot.Index}, t{snapshot.Term}) is not in the log ending at {LastIndex}");
        }

        var keepRun = 0;
        while (keepRun + 1 < _runs.Count && _runs[keepRun + 1].FirstIndex <= snapshot.Index)
        {
            keepRun++;
        }

        _runs.RemoveRange(0, keepRun);
        _runs[0] = new TermRun(snapshot.Index, _runs[0].Term);

        var keepConfig = 0;
        while (keepConfig + 1 < _configs.Count && _configs[keepConfig + 1].Index <= snapshot.Index)
        {
            keepConfig++;
        }

        _configs.RemoveRange(0, keepConfig);
        _configs[0] = new ConfigEntry(snapshot.Index, _configs[0].Config);
        Snapshot = snapshot;
    }

    private bool TruncateFrom(long first)
    {
        while (_runs.Count > 1 && _runs[^1].FirstIndex >= first)
        {
            _runs.RemoveAt(_runs.Count - 1);
        }

        var changed = false;
        while (_configs.Count > 1 && _configs[^1].Index >= first)
        {
            _configs.RemoveAt(_configs.Count - 1);
            changed = true;
        }

        LastIndex = first - 1;
        return changed;
    }
}
