using Pyralog.Grains.Interfaces.Logs;

namespace Pyralog.Cli.Logs;

/// <summary>A consumed record as the CLI prints it (the client's <c>ConsumedRecord</c>, behind the seam).</summary>
internal sealed record LogRecord(
    string Log,
    int Partition,
    ulong Epoch,
    ulong Offset,
    ulong Id,
    byte[]? Key,
    byte[] Value,
    RecordHeader[]? Headers,
    DateTimeOffset AppendTime);
