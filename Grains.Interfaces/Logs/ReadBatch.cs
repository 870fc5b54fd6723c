namespace Pyralog.Grains.Interfaces.Logs;

/// <summary>
/// Committed records from one replica, in offset order. <see cref="NextOffset"/> is where the next read continues;
/// <see cref="FirstOffset"/> and <see cref="CommittedNext"/> bound what the replica could serve when it answered (the
/// committed prefix it has applied): a read at <see cref="CommittedNext"/> returns no records (nothing newer yet).
/// </summary>
[GenerateSerializer, Immutable]
[Alias("pyralog.ReadBatch")]
public sealed record ReadBatch(
    [property: Id(0)] CommittedRecord[] Records,
    [property: Id(1)] ulong NextOffset,
    [property: Id(2)] ulong FirstOffset,
    [property: Id(3)] ulong CommittedNext);
