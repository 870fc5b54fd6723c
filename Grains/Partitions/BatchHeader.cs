namespace Pyralog.Grains.Partitions;

/// <summary>
/// What a record entry carries besides its records: when the leader appended it (Unix milliseconds, its clock; the
/// partition makes it non-decreasing at apply) and, for an idempotent producer's batch, the producer id (0 = none)
/// and the sequence number of the batch's first record.
/// </summary>
internal readonly record struct BatchHeader(long AppendTimeMs, long ProducerId, long FirstSequence);
