using Pyralog.Grains.Interfaces.Logs;

namespace Pyralog.Grains.Placement;

/// <summary>
/// Where each replica of a log lives: per partition and slot, the endpoint of the silo that holds the replica's data
/// (its home), or none when the slot has no replica. The metadata group records homes when it creates a log and
/// changes them only by a replica move, so placement does not shift when silos join or leave; a slot's home is where
/// Orleans activates the replica whenever that silo is active (<see cref="ReplicaPlacementDirector"/>).
/// </summary>
[GenerateSerializer, Immutable]
[Alias("pyralog.ReplicaHomes")]
public sealed record ReplicaHomes
{
    /// <summary>The most silos one log's homes can name (a slot's home is one byte, 0 for none).</summary>
    public const int MaxSilos = byte.MaxValue;

    private const int Slots = ReplicaGrainKey.MaxReplicationFactor;

    /// <summary>The silo endpoints homes refer to ("address:port").</summary>
    [Id(0)] public required string[] Silos { get; init; }

    /// <summary>
    /// Per partition, <see cref="ReplicaGrainKey.MaxReplicationFactor"/> bytes, one per slot: 1 + the index of its
    /// silo in <see cref="Silos"/>, 0 for a slot without a replica.
    /// Invariant: every non-zero byte names an entry of <see cref="Silos"/>, and every entry is named. A partition names
    /// a silo more than once only when it was created with fewer silos than replicas.
    /// </summary>
    [Id(1)] public required byte[] Homes { get; init; }

    /// <summary>The metadata group's applied index when these homes were last changed: of two views, the larger is newer.</summary>
    [Id(2)] public long Version { get; init; }

    public int Partitions => Homes.Length / Slots;

    /// <summary>Homes for the slots of every partition: <paramref name="endpoints"/>[p][slot].</summary>
    /// <exception cref="ArgumentException">A partition names more than <see cref="ReplicaGrainKey.MaxReplicationFactor"/>
    /// silos, or all of them more than <see cref="MaxSilos"/>.</exception>
    public static ReplicaHomes Of(string[][] endpoints)
    {
        var silos = new List<string>();
        var homes = new byte[endpoints.Length * Slots];
        for (var p = 0; p < endpoints.Length; p++)
        {
            if (endpoints[p].Length > Slots)
            {
                throw new ArgumentException($"partition {p} has {endpoints[p].Length} replicas; at most {Slots}", nameof(endpoints));
            }

            for (var slot = 0; slot < endpoints[p].Length; slot++)
            {
                var index = silos.IndexOf(endpoints[p][slot]);
                if (index < 0)
                {
                    ThrowIfFull(silos.Count, endpoints[p][slot]);
                    silos.Add(endpoints[p][slot]);
                    index = silos.Count - 1;
                }

                homes[p * Slots + slot] = (byte)(index + 1);
            }
        }

        return new ReplicaHomes { Silos = [.. silos], Homes = homes };
    }

    /// <summary>The endpoint of the silo that holds slot <paramref name="slot"/> of <paramref name="partition"/>; null when the slot has no replica.</summary>
    public string? Home(int partition, int slot)
    {
        if (partition < 0 || partition >= Partitions || slot < 0 || slot >= Slots)
        {
            return null;
        }

        var index = Homes[partition * Slots + slot];
        return index == 0 ? null : Silos[index - 1];
    }

    /// <summary>Every partition's <see cref="SlotMask"/>.</summary>
    public byte[] SlotMasks()
    {
        var masks = new byte[Partitions];
        for (var p = 0; p < masks.Length; p++)
        {
            masks[p] = SlotMask(p);
        }

        return masks;
    }

    /// <summary>The slots of <paramref name="partition"/> that have a replica, as a bit mask (bit s = slot s).</summary>
    public byte SlotMask(int partition)
    {
        var mask = 0;
        for (var slot = 0; slot < Slots; slot++)
        {
            mask |= Homes[partition * Slots + slot] != 0 ? 1 << slot : 0;
        }

        return (byte)mask;
    }

    /// <summary>The slot of <paramref name="partition"/> whose home is <paramref name="endpoint"/>; -1 when none.</summary>
    public int SlotOn(int partition, string endpoint)
    {
        for (var slot = 0; slot < Slots; slot++)
        {
            if (Home(partition, slot) == endpoint)
            {
                return slot;
            }
        }

        return -1;
    }

    /// <summary>How many replicas have their home at <paramref name="endpoint"/>.</summary>
    public int CountOn(string endpoint)
    {
        var index = Array.IndexOf(Silos, endpoint);
        if (index < 0)
        {
            return 0;
        }

        var count = 0;
        foreach (var home in Homes)
        {
            count += home == index + 1 ? 1 : 0;
        }

        return count;
    }

    /// <summary>These homes with slot <paramref name="slot"/> of <paramref name="partition"/> at <paramref name="endpoint"/> (null: no replica).</summary>
    /// <exception cref="ArgumentException">The log's replicas would live on more than <see cref="MaxSilos"/> silos.</exception>
    public ReplicaHomes With(int partition, int slot, string? endpoint)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(partition);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(partition, Partitions);
        ArgumentOutOfRangeException.ThrowIfNegative(slot);
        ArgumentOutOfRangeException.ThrowIfGreaterThanOrEqual(slot, Slots);
        var homes = (byte[])Homes.Clone();
        homes[partition * Slots + slot] = 0;

        // Drop silos no slot names any more, renumbering the bytes, so the table stays as small as the cluster.
        var used = new bool[Silos.Length];
        foreach (var home in homes)
        {
            if (home != 0)
            {
                used[home - 1] = true;
            }
        }

        var renumber = new byte[Silos.Length + 1];
        var kept = new List<string>(Silos.Length + 1);
        for (var i = 0; i < Silos.Length; i++)
        {
            if (used[i])
            {
                kept.Add(Silos[i]);
                renumber[i + 1] = (byte)kept.Count;
            }
        }

        for (var i = 0; i < homes.Length; i++)
        {
            homes[i] = renumber[homes[i]];
        }

        if (endpoint is not null)
        {
            var index = kept.IndexOf(endpoint);
            if (index < 0)
            {
                ThrowIfFull(kept.Count, endpoint);
                kept.Add(endpoint);
                index = kept.Count - 1;
            }

            homes[partition * Slots + slot] = (byte)(index + 1);
        }

        return new ReplicaHomes { Silos = [.. kept], Homes = homes, Version = Version };
    }

    private static void ThrowIfFull(int silos, string endpoint)
    {
        if (silos >= MaxSilos)
        {
            throw new ArgumentException($"a log's replicas live on at most {MaxSilos} silos: {endpoint} would be one more", nameof(endpoint));
        }
    }
}
