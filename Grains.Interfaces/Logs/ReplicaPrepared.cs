namespace Pyralog.Grains.Interfaces.Logs;

/// <summary>
/// A replica's answer to <c>PrepareAsync</c>: its incarnation, whether it already holds a Raft log (a founded group),
/// and, from a metadata replica without a log, whether its silo holds a partition replica's Raft log or met the
/// founded group before (read its state once): a cluster whose metadata group was founded before.
/// </summary>
[GenerateSerializer, Immutable]
[Alias("pyralog.ReplicaPrepared")]
public readonly record struct ReplicaPrepared(
    [property: Id(0)] long Incarnation,
    [property: Id(1)] bool HasLog,
    [property: Id(2)] bool SiloHoldsPartitions = false,
    [property: Id(3)] bool SiloSawFoundedGroup = false);
