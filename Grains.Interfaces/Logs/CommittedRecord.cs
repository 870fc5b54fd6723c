namespace Pyralog.Grains.Interfaces.Logs;

/// <summary>
/// A record as stored: its address <c>(Epoch, Offset)</c> in its partition, what was appended, and when its leader
/// appended it (<see cref="AppendTime"/>, milliseconds; never decreasing along a partition's offsets).
/// </summary>
[GenerateSerializer, Immutable]
[Alias("pyralog.CommittedRecord")]
public sealed record CommittedRecord(
    [property: Id(0)] ulong Epoch,
    [property: Id(1)] ulong Offset,
    [property: Id(2)] ulong Id,
    [property: Id(3)] byte[]? Key,
    [property: Id(4)] byte[] Value,
    [property: Id(5)] RecordHeader[]? Headers,
    [property: Id(6)] DateTimeOffset AppendTime = default);
