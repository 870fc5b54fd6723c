namespace Pyralog.Consensus;

/// <summary>
/// The answer to <see cref="RaftNode.ReadIndex"/>: once the host has applied up to <see cref="Index"/>, a read for
/// <see cref="Context"/> served from the local state machine is linearizable.
/// </summary>
public readonly record struct ReadState(long Index, long Context);
