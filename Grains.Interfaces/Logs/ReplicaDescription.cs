namespace Pyralog.Grains.Interfaces.Logs;

/// <summary>One replica of a partition as <see cref="IPyralogAdminGrain.DescribeLogAsync"/> sees it.</summary>
[GenerateSerializer, Immutable]
[Alias("pyralog.ReplicaDescription")]
public sealed record ReplicaDescription(
    [property: Id(0)] int Replica,
    [property: Id(1)] string Key,
    [property: Id(2)] string Silo,
    [property: Id(3)] ReplicaRole Role,
    [property: Id(4)] ulong NextOffset,
    [property: Id(5)] ulong Lag,
    [property: Id(6)] string? Error);
