namespace Pyralog.Grains.Metadata;

/// <summary>
/// A replica move under way in partition <paramref name="Partition"/>: slot <paramref name="From"/> is being replaced
/// by slot <paramref name="To"/>, whose home is the target silo. Both slots have homes until the move completes.
/// </summary>
[GenerateSerializer, Immutable]
[Alias("pyralog.ReplicaMove")]
public sealed record ReplicaMove([property: Id(0)] int Partition, [property: Id(1)] int From, [property: Id(2)] int To);
