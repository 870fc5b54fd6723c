namespace Pyralog.Grains.Interfaces.Logs;

/// <summary>A log and the live state of each of its partitions.</summary>
[GenerateSerializer, Immutable]
[Alias("pyralog.LogDescription")]
public sealed record LogDescription([property: Id(0)] LogInfo Log, [property: Id(1)] PartitionDescription[] Partitions);
