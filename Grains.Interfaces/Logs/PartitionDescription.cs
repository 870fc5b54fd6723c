namespace Pyralog.Grains.Interfaces.Logs;

/// <summary>
/// One partition: its leader (replica slot, -1 when none answered as leader), epoch, offsets (first retained, committed
/// next) and replicas. <see cref="SharedSilos"/> is true when two replicas run on one silo (fewer silos than the
/// replication factor, or after failures): such a partition survives fewer silo losses than its RF promises.
/// </summary>
[GenerateSerializer, Immutable]
[Alias("pyralog.PartitionDescription")]
public sealed record PartitionDescription(
    [property: Id(0)] int Partition,
    [property: Id(1)] int LeaderReplica,
    [property: Id(2)] string? LeaderSilo,
    [property: Id(3)] ulong Epoch,
    [property: Id(4)] ulong FirstOffset,
    [property: Id(5)] ulong CommittedNext,
    [property: Id(6)] ReplicaDescription[] Replicas,
    [property: Id(7)] bool SharedSilos);
