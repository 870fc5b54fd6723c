using Pyralog.Consensus;
using Pyralog.Storage.Native;

namespace Pyralog.Grains.Replication;

/// <summary>What a replica applies its committed entries to: a partition's records, or the metadata group's logs.</summary>
internal interface IReplicaStateMachine
{
    /// <summary>The index the state was restored at (the node hands out committed entries after it).</summary>
    long AppliedIndex { get; }

    /// <summary>Applies one committed entry and returns what its proposer is told (null: nothing to report).
    /// Entries at or below <see cref="AppliedIndex"/> may come again after a restart and must be skipped.</summary>
    object? Apply(in LogEntry entry);

    /// <summary>Replaces the state by a snapshot received from the leader.</summary>
    void Restore(RaftSnapshot snapshot);

    /// <summary>True when <see cref="TakeUnwritten"/> has something to write.</summary>
    bool HasUnwritten { get; }

    /// <summary>Adds the state applied since the last call to <paramref name="write"/> (false: nothing to write). The
    /// write is not synced: the state can always be rebuilt from the log.</summary>
    bool TakeUnwritten(WriteBatch write);

    /// <summary>The write taken last by <see cref="TakeUnwritten"/> is in the store.</summary>
    void Written();

    /// <summary>
    /// A compaction the applied entries asked for, beyond <paramref name="current"/> (the log's snapshot): the Raft
    /// index (at most <see cref="AppliedIndex"/>) and the snapshot data, the state as it was at that index. Null: none.
    /// </summary>
    (long Index, byte[] Data)? TakeCompaction(RaftSnapshot current);
}
