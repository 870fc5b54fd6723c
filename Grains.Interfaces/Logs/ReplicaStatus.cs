namespace Pyralog.Grains.Interfaces.Logs;

/// <summary>What one replica reports about itself.</summary>
[GenerateSerializer, Immutable]
[Alias("pyralog.ReplicaStatus")]
public sealed record ReplicaStatus
{
    [Id(0)] public required string Key { get; init; }
    [Id(1)] public required string Silo { get; init; }
    [Id(2)] public ReplicaRole Role { get; init; }

    /// <summary>The current Raft term; the epoch of the records a leader appends now.</summary>
    [Id(3)] public ulong Term { get; init; }

    /// <summary>The slot of the leader this replica knows (-1 = none).</summary>
    [Id(4)] public int LeaderReplica { get; init; } = -1;
    [Id(5)] public long Incarnation { get; init; }
    [Id(6)] public long CommitIndex { get; init; }
    [Id(7)] public long AppliedIndex { get; init; }
    [Id(8)] public long LastIndex { get; init; }

    /// <summary>The epoch of the last applied record batch's leader.</summary>
    [Id(9)] public ulong Epoch { get; init; }
    [Id(10)] public ulong FirstOffset { get; init; }

    /// <summary>One past the last applied (committed) record.</summary>
    [Id(11)] public ulong NextOffset { get; init; }
    [Id(12)] public bool Quiesced { get; init; }

    /// <summary>
    /// The voters of the group's configuration as this replica knows it: per replica slot, the incarnation that votes
    /// (0 = the slot has no voter). A leader's is the group's; another replica's may be stale (a replica back on old
    /// data believes itself a voter until it hears the configuration that replaced it).
    /// </summary>
    [Id(13)] public long[] VoterIncarnations { get; init; } = [];

    /// <summary>The Raft index this replica's log is compacted to (its snapshot; 0 = never compacted).</summary>
    [Id(14)] public long SnapshotIndex { get; init; }

    /// <summary>Record bytes (encoded batches) the replica retains, from <see cref="FirstOffset"/> to <see cref="NextOffset"/>.</summary>
    [Id(15)] public ulong RetainedBytes { get; init; }

    /// <summary>The learners of the group's configuration as this replica knows it, per replica slot (0 = the slot has no learner).</summary>
    [Id(16)] public long[] LearnerIncarnations { get; init; } = [];

    /// <summary>Whether the configuration this replica knows is committed (a leader's: the group's membership is settled).</summary>
    [Id(17)] public bool ConfigCommitted { get; init; }

    /// <summary>The term of the last entry in this replica's log: with <see cref="LastIndex"/>, how up to date the log is, as Raft's elections compare logs.</summary>
    [Id(18)] public long LastTerm { get; init; }
}
