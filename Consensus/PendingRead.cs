namespace Pyralog.Consensus;

/// <summary>
/// A ReadIndex request at the leader, from itself (<see cref="From"/> = 0) or forwarded by a follower: answered with
/// <see cref="Index"/> once a quorum acknowledged heartbeat round <see cref="Round"/> (0 = the leader has not committed
/// an entry of its term yet, so the index is not assigned).
/// </summary>
internal readonly record struct PendingRead(long Context, long Index, long Round, long From, long FromIncarnation);
