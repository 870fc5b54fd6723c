namespace Pyralog.Grains.Interfaces.Logs;

/// <summary>
/// Raft messages from one replica to another, encoded together (one one-way grain call per target per driver pass).
/// <see cref="Quiesce"/>: the sender, the leader, has gone idle with everything committed everywhere; the receiver
/// may stop ticking until it hears from anyone again. <see cref="Wake"/>: the sender woke up and asks the leader to
/// resume heartbeats (or, from replica -1, the silo wakes its own replica after a silo died).
/// </summary>
[GenerateSerializer, Immutable]
[Alias("pyralog.RaftEnvelope")]
public sealed record RaftEnvelope(
    [property: Id(0)] int FromReplica,
    [property: Id(1)] byte[] Messages,
    [property: Id(2)] bool Quiesce = false,
    [property: Id(3)] bool Wake = false);
