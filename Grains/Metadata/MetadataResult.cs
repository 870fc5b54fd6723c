namespace Pyralog.Grains.Metadata;

/// <summary>What a metadata command did: the log it concerns, or why it was refused (nothing changed then).</summary>
[GenerateSerializer, Immutable]
[Alias("pyralog.MetadataResult")]
public sealed record MetadataResult([property: Id(0)] MetadataLog? Log, [property: Id(1)] string? Error);
