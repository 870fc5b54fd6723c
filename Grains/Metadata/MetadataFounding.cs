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
/// MetadataVersionUpgrade), which a silo without partitions (drained, a spare) has too. Left: a cluster stopped whole
/// whose first silo back never ran in it (a new silo, or a wiped store) and that alone holds every metadata replica.
/// </summary>
internal static class MetadataFounding
{
    /// <summary>True to found the group; false when it was founded (a replica holds its log).</summary>
    /// <exception cref="InvalidOperationException">No replica holds the group's log, yet a replica's silo holds a partition's
    /// Raft log or met the founded group before: the group's silos are down, not new; calls fail until they are back.</exception>
    public static bool ShouldFound(IReadOnlyList<ReplicaPrepared> prepared)
    {
        var (holdsPartitions, sawFounded) = (false, false);
        foreach (var replica in prepared)
        {
            if (replica.HasLog)
            {
                return false;
            }

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

        return true;
    }
}
