namespace Pyralog.Grains.Interfaces.Logs;

/// <summary>A named header of a record (names need not be unique; order is kept).</summary>
[GenerateSerializer, Immutable]
[Alias("pyralog.RecordHeader")]
public sealed record RecordHeader([property: Id(0)] string Name, [property: Id(1)] byte[] Value);
