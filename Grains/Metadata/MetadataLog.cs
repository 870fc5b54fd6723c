using Pyralog.Grains.Interfaces.Logs;

namespace Pyralog.Grains.Metadata;

/// <summary>A log in the metadata group's state: what the admin shows, plus the founding incarnation of each replica (per partition, per slot; null until recorded).</summary>
[GenerateSerializer, Immutable]
[Alias("pyralog.MetadataLog")]
public sealed record MetadataLog([property: Id(0)] LogInfo Info, [property: Id(1)] long[][]? Incarnations);
