using Pyralog.Cli.Logs;

namespace Pyralog.Cli.Commands;

/// <summary>One partition <c>pyralog consume</c> reads: where from, and (without --follow) the offset to stop before.</summary>
internal sealed record PartitionRead(int Partition, ConsumeStart From, ulong? End);
