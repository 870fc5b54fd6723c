namespace Pyralog.Consensus;

/// <summary>
/// A state machine snapshot covering the log up to and including <see cref="Index"/> (whose term is
/// <see cref="Term"/>), with the configuration in force at that index. <see cref="Data"/> is opaque to Raft.
/// Only committed, applied state is ever snapshotted, so installing one never loses a committed entry.
/// </summary>
public sealed record RaftSnapshot(long Index, long Term, ClusterConfig Config, ReadOnlyMemory<byte> Data)
{
    /// <summary>The empty snapshot of a fresh log.</summary>
    public static RaftSnapshot Empty { get; } = new(0, 0, ClusterConfig.Empty, ReadOnlyMemory<byte>.Empty);
}
