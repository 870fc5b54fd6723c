namespace Pyralog.Consensus;

/// <summary>
/// A member of a Raft group: the replica id plus the incarnation of that replica which is the member. A replica that
/// loses its disk comes back with a new, larger incarnation and is a different member until the configuration says
/// otherwise. <see cref="AutoPromote"/> marks a learner the leader promotes to voter once it has caught up.
/// </summary>
public readonly record struct Member(long Id, long Incarnation, bool AutoPromote = false);
