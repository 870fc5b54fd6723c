namespace Pyralog.Consensus;

/// <summary>
/// The answer to <see cref="RaftNode.ReadIndex"/>: once the host has applied up to <see cref="Index"/>, a read for
/// <see cref="Context"/> served from the local state machine is linearizable. <see cref="Refused"/>: the leader did not
/// serve the read forwarded to it, because its configuration no longer counts this incarnation (an activation replaced
/// in its group that has not heard so yet); <see cref="Index"/> means nothing, and the caller asks the leader instead.
/// </summary>
public readonly record struct ReadState(long Index, long Context, bool Refused = false);
