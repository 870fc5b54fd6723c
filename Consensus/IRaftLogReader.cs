namespace Pyralog.Consensus;

/// <summary>
/// The one thing a running node asks of the host's disk: entries it has evicted from its in-memory tail, which
/// are always durable (a node caches every entry it has not been told is persisted, see
/// <see cref="RaftNode.Persisted"/>). Used by a leader catching up a follower that is far behind.
/// </summary>
public interface IRaftLogReader
{
    /// <summary>
    /// Appends entries [lo, hi) to <paramref name="into"/>, stopping once <paramref name="maxBytes"/> is exceeded
    /// (at least one entry is always returned).
    /// </summary>
    void ReadEntries(long lo, long hi, long maxBytes, List<LogEntry> into);
}
