using Pyralog.Grains.Interfaces.Logs;

namespace Pyralog.Grains.Metadata;

/// <summary>
/// Whether the admin front founds the metadata group, from its replicas' answers to <c>PrepareAsync</c>. A group is
/// founded once, on a new cluster. Replicas without a log can also mean that the silos holding the group's data are
/// down rather than new (a full restart where another silo came up first, or a rack down): the replicas are then placed
/// on live silos without their data. Founding there would start an empty group: every log gone from listings, every
/// partition replica's data judged a leftover of a deleted log and dropped, new logs reusing old ids. Two marks on a
/// replica's silo tell the two apart: a partition replica's Raft log (partitions get one only from a founded group), and
/// the silo's record that it read the founded group's state before (every silo does within seconds of its start, see
/// MetadataVersionUpgrade), which a silo without partitions (drained, a spare) has too. Neither mark is on a silo that
/// never ran in the cluster (a new one, or one whose store was wiped): back first and alone after a full stop, it holds
/// every metadata replica and no mark. The cluster's own record (<see cref="MetadataFoundingRecord"/>, in grain storage
/// that outlives the silos: Redis with Redis membership) covers that case; with in-memory grain storage (localhost
/// clustering) it is lost with the cluster, and the case stays open there. An operator who removed every silo's data on
/// purpose lets the group be founded again with <c>Pyralog:RefoundMetadataGroup</c>, which passes over the record only.
/// </summary>
internal static class MetadataFounding
{
    /// <summary>True when a replica holds the group's log: the group was founded and runs (or will once elected).</summary>
    public static bool Founded(IReadOnlyList<ReplicaPrepared> prepared)
    {
        foreach (var replica in prepared)
        {
            if (replica.HasLog)
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>
    /// True to found the group; false when it was founded (a replica holds its log). <paramref name="record"/> is the
    /// cluster's founding record (null: none); <paramref name="refound"/> passes over it, not over the silos' marks.
    /// </summary>
    /// <exception cref="InvalidOperationException">See <see cref="RequireNew"/>.</exception>
    public static bool ShouldFound(IReadOnlyList<ReplicaPrepared> prepared, MetadataFoundingRecord? record, bool refound = false)
    {
        if (Founded(prepared))
        {
            return false;
        }

        RequireNew(prepared, record, refound);
        return true;
    }

    /// <summary>Of replicas none of which holds the group's log: throws unless the cluster is new.</summary>
    /// <exception cref="InvalidOperationException">A replica's silo holds a partition's Raft log or met the founded group
    /// before, or the cluster recorded the group founded (unless <paramref name="refound"/>): the group's silos are down,
    /// not new; calls fail until they are back.</exception>
    public static void RequireNew(IReadOnlyList<ReplicaPrepared> prepared, MetadataFoundingRecord? record, bool refound)
    {
        var (holdsPartitions, sawFounded) = (false, false);
        foreach (var replica in prepared)
        {
            holdsPartitions |= replica.SiloHoldsPartitions;
            sawFounded |= replica.SiloSawFoundedGroup;
        }

        if (holdsPartitions || sawFounded)
        {
            throw new InvalidOperationException(
                "the metadata group is unavailable: none of its replicas runs on a silo that holds its data, yet their silos " +
                (holdsPartitions ? "hold partitions' Raft logs" : "met the founded group before") +
                ", so the group exists and the silos with its data are down (not a new cluster); start them");
        }

        if (record is not null && !refound)
        {
            throw new InvalidOperationException(
                $"the metadata group is unavailable: none of its replicas runs on a silo that holds its data, yet the cluster's grain " +
                $"storage ('{Hosting.PyralogStorageNames.Cluster}') records the group founded (recorded {record.FoundedAt:O} by {record.RecordedBy}), " +
                "so the silos with its data are down (not a new cluster); start them. If every silo's data was removed on purpose, " +
                "start the silos with Pyralog:RefoundMetadataGroup=true to found an empty group");
        }
    }
}
