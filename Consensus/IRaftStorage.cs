namespace Pyralog.Consensus;

/// <summary>
/// The durable part of a node: hard state, the latest snapshot and the log after it. The node only reads it;
/// the host writes it while handling a <see cref="Ready"/> (hard state, snapshot, entries) and completes those
/// writes before sending that Ready's messages. Everything a node knows after a crash comes from here, so a write
/// the host has not finished must simply be absent after a restart; that is how unpersisted entries are lost safely.
/// Indexes: entries exist for (<see cref="Snapshot"/>.Index, <see cref="LastIndex"/>]; <see cref="Term"/> also
/// answers for the snapshot index itself.
/// </summary>
public interface IRaftStorage
{
    HardState HardState { get; }

    /// <summary>The latest snapshot (<see cref="RaftSnapshot.Empty"/> on a fresh log).</summary>
    RaftSnapshot Snapshot { get; }

    long LastIndex { get; }

    /// <summary>The term of the entry at <paramref name="index"/>, for Snapshot.Index ≤ index ≤ LastIndex.</summary>
    long Term(long index);

    /// <summary>
    /// Appends entries [lo, hi) to <paramref name="into"/>, stopping once <paramref name="maxBytes"/> is exceeded
    /// (at least one entry is always returned).
    /// </summary>
    void ReadEntries(long lo, long hi, long maxBytes, List<LogEntry> into);

    void SetHardState(HardState state);

    /// <summary>Writes entries; the first may overwrite (and truncates everything from) an existing index.</summary>
    void Append(ReadOnlySpan<LogEntry> entries);

    /// <summary>Replaces the whole log by a snapshot received from a leader.</summary>
    void InstallSnapshot(RaftSnapshot snapshot);

    /// <summary>Records a snapshot the application took locally and drops the entries it covers.</summary>
    void Compact(RaftSnapshot snapshot);
}
