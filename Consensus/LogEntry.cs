namespace Pyralog.Consensus;

/// <summary>
/// One Raft log entry. A value type so that logs, batches and messages hold entries inline in arrays: the steady
/// path allocates per batch, never per entry. <see cref="Data"/> is owned by the proposer and must not change.
/// </summary>
public readonly record struct LogEntry(long Index, long Term, EntryType Type, ReadOnlyMemory<byte> Data)
{
    /// <summary>Fixed accounting overhead per entry used by byte-based flow control.</summary>
    public const int Overhead = 24;

    /// <summary>Bytes this entry counts against message and in-flight byte limits.</summary>
    public long Size => Data.Length + Overhead;
}
