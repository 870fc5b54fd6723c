namespace Pyralog.Grains.Interfaces.Logs;

/// <summary>A replica's part in its Raft group.</summary>
public enum ReplicaRole : byte
{
    /// <summary>Not a member (yet): an activation without data waiting to be admitted, or a replica of a deleted log.</summary>
    None = 0,
    Follower = 1,
    Candidate = 2,
    Leader = 3,

    /// <summary>Receives the log but does not vote: a replica catching up after it lost its data.</summary>
    Learner = 4,
}
