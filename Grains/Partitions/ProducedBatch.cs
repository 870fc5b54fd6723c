namespace Pyralog.Grains.Partitions;

/// <summary>One applied batch of an idempotent producer: its first sequence, record count and acknowledged address.</summary>
internal readonly record struct ProducedBatch(long FirstSequence, int Count, ulong Epoch, ulong FirstOffset);
