namespace Pyralog.Grains.Interfaces.Logs;

/// <summary>
/// How a new Raft group starts: the incarnation each replica slot reported from <c>PrepareAsync</c> (index = slot),
/// which becomes the group's first configuration (entry 1, term 1, identical on every member), and the log's settings.
/// </summary>
[GenerateSerializer, Immutable]
[Alias("pyralog.ReplicaBootstrap")]
public sealed record ReplicaBootstrap([property: Id(0)] long[] Incarnations, [property: Id(1)] LogSettings Settings);
