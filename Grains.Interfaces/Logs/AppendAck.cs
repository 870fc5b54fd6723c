namespace Pyralog.Grains.Interfaces.Logs;

/// <summary>
/// A committed append: its records hold the dense offsets <c>FirstOffset .. FirstOffset + Count - 1</c> of the partition,
/// in epoch <see cref="Epoch"/> (the term of the leader that appended them). Returned only once a majority of the
/// replicas hold the batch (on disk for <see cref="LogDurability.Fsync"/> logs, in their page caches for
/// <see cref="LogDurability.OsCache"/> ones). <see cref="Duplicate"/>: an idempotent batch sent again, answered with
/// the acknowledgement of its first append (nothing was appended this time).
/// </summary>
[GenerateSerializer, Immutable]
[Alias("pyralog.AppendAck")]
public readonly record struct AppendAck([property: Id(0)] ulong Epoch, [property: Id(1)] ulong FirstOffset, [property: Id(2)] int Count, [property: Id(3)] bool Duplicate = false);
