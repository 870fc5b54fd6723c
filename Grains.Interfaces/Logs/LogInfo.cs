namespace Pyralog.Grains.Interfaces.Logs;

/// <summary>A log as the metadata group records it. <see cref="Id"/> is assigned by the metadata group and never reused.</summary>
[GenerateSerializer, Immutable]
[Alias("pyralog.LogInfo")]
public sealed record LogInfo(
    [property: Id(0)] ulong Id,
    [property: Id(1)] string Name,
    [property: Id(2)] int Partitions,
    [property: Id(3)] int ReplicationFactor,
    [property: Id(4)] LogSettings Settings,
    [property: Id(5)] LogState State)
{
    /// <summary>
    /// Per partition, the slots that hold a replica as a bit mask (bit s = slot s); null while every partition has
    /// slots 0..<see cref="ReplicationFactor"/>−1. A replica move adds a free slot on the target silo and removes the
    /// moved one, so after moves a partition's slots need not be contiguous; while a move runs the partition has one
    /// slot more than its replication factor.
    /// </summary>
    [Id(6)] public byte[]? SlotMasks { get; init; }

    /// <summary>The grain key of replica <paramref name="replica"/> of <paramref name="partition"/>.</summary>
    public string ReplicaKey(int partition, int replica) => ReplicaGrainKey.Of(Id, partition, replica);

    /// <summary>Whether slot <paramref name="replica"/> of <paramref name="partition"/> holds a replica.</summary>
    public bool HasReplica(int partition, int replica) =>
        partition >= 0 && partition < Partitions && replica >= 0 && replica < ReplicaGrainKey.MaxReplicationFactor &&
        (SlotMask(partition) & (1 << replica)) != 0;

    /// <summary>The slots of <paramref name="partition"/> that hold a replica, in increasing order.</summary>
    public int[] ReplicaSlots(int partition)
    {
        var mask = SlotMask(partition);
        var slots = new int[System.Numerics.BitOperations.PopCount(mask)];
        var i = 0;
        for (var slot = 0; slot < ReplicaGrainKey.MaxReplicationFactor; slot++)
        {
            if ((mask & (1 << slot)) != 0)
            {
                slots[i++] = slot;
            }
        }

        return slots;
    }

    /// <summary>The slot after <paramref name="replica"/> among <paramref name="partition"/>'s slots, wrapping around (the first slot when <paramref name="replica"/> is none of them).</summary>
    public int NextReplica(int partition, int replica)
    {
        var mask = SlotMask(partition);
        for (var step = 1; step <= ReplicaGrainKey.MaxReplicationFactor; step++)
        {
            var slot = (replica + step) % ReplicaGrainKey.MaxReplicationFactor;
            if (slot >= 0 && (mask & (1 << slot)) != 0)
            {
                return slot;
            }
        }

        return 0;
    }

    /// <summary>Equal when every field is, the slot masks compared by content.</summary>
    public bool Equals(LogInfo? other) =>
        other is not null && Id == other.Id && Name == other.Name && Partitions == other.Partitions &&
        ReplicationFactor == other.ReplicationFactor && Settings == other.Settings && State == other.State &&
        (SlotMasks ?? []).AsSpan().SequenceEqual(other.SlotMasks ?? []);

    public override int GetHashCode() => HashCode.Combine(Id, Name, Partitions, ReplicationFactor, Settings, State);

    private uint SlotMask(int partition) =>
        SlotMasks is { } masks && partition < masks.Length ? masks[partition] : (1u << ReplicationFactor) - 1;
}
