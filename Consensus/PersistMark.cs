namespace Pyralog.Consensus;

/// <summary>
/// What one <see cref="PersistBatch"/> makes durable, handed back to <see cref="RaftNode.Persisted"/> when the batch
/// is on disk: the last log index (and its term) the node's log had when the batch was cut, the snapshot it installs
/// (0 = none) and the hard state. The node checks the term before believing the index, so a mark for entries that
/// have since been overwritten in memory advances nothing (etcd's stableTo rule).
/// </summary>
public readonly record struct PersistMark(long LastIndex, long LastTerm, long SnapshotIndex, HardState HardState);
