namespace Pyralog.Grains.Interfaces.Logs;

/// <summary>
/// Raft messages from one replica to another, encoded together (one one-way grain call per target per driver pass).
/// <see cref="Quiesce"/>: the sender, the leader, has gone idle with everything committed everywhere; the receiver
/// may stop ticking until it hears from anyone again. <see cref="Wake"/>: the sender woke up and asks the leader to
/// resume heartbeats (or, from replica -1, the silo wakes its own replica after a silo died).
/// <see cref="LeavingIncarnation"/>: the sender, this incarnation of its replica, is moving to the silo that holds its
/// data; the leader may rejoin the incarnation that takes its place at once. <see cref="Greeting"/>: the sender
/// (re)activated or saw a new leader and makes itself known; the receiver answers with an empty envelope, so both
/// silos know where the other replica runs before an election needs it. <see cref="Link"/> and <see cref="Sequence"/>:
/// the sending activation (a random number, 0 for senders outside a replica) and its count of envelopes to this
/// target, from 1, so the receiver can restore the order Orleans does not keep.
/// </summary>
[GenerateSerializer, Immutable]
[Alias("pyralog.RaftEnvelope")]
public sealed record RaftEnvelope(
    [property: Id(0)] int FromReplica,
    [property: Id(1)] byte[] Messages,
    [property: Id(2)] bool Quiesce = false,
    [property: Id(3)] bool Wake = false,
    [property: Id(4)] long LeavingIncarnation = 0,
    [property: Id(5)] bool Greeting = false,
    [property: Id(6)] long Link = 0,
    [property: Id(7)] long Sequence = 0);
