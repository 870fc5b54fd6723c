namespace Pyralog.Client.Logs;

/// <summary>
/// A record's acknowledgement: committed on a majority of its partition's replicas at <c>(Epoch, Offset)</c>.
/// <see cref="Duplicate"/>: its batch had been appended before (an earlier attempt whose acknowledgement was lost) and
/// the partition answered with that first append's address; the record is in the log once.
/// </summary>
public readonly record struct RecordAck(int Partition, ulong Epoch, ulong Offset, bool Duplicate);
