using Pyralog.Grains.Interfaces.Logs;

namespace Pyralog.Client.Logs;

/// <summary>A committed record as a consumer sees it: where it is (log, partition, epoch, offset) and what was appended.</summary>
public sealed record ConsumedRecord(
    string Log,
    int Partition,
    ulong Epoch,
    ulong Offset,
    ulong Id,
    byte[]? Key,
    byte[] Value,
    RecordHeader[]? Headers,
    DateTimeOffset AppendTime);
