namespace Pyralog.Grains.Interfaces.Logs;

/// <summary>A replica's answer to <c>PrepareAsync</c>: its incarnation and whether it already holds a Raft log (a founded group).</summary>
[GenerateSerializer, Immutable]
[Alias("pyralog.ReplicaPrepared")]
public readonly record struct ReplicaPrepared([property: Id(0)] long Incarnation, [property: Id(1)] bool HasLog);
