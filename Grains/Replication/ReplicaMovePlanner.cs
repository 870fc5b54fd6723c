using Pyralog.Grains.Interfaces.Logs;
using Pyralog.Grains.Metadata;

namespace Pyralog.Grains.Replication;

/// <summary>
/// Chooses replica moves from the metadata group's homes (pure: no I/O, the same answer for the same input). Two
/// reasons to move a replica, in this order:
/// <list type="number">
/// <item>Its home is a draining silo (<c>pyralog cluster drain</c>, or stopping): it goes to the active silo with the
/// fewest replicas that holds none of its partition.</item>
/// <item>The active silos' replica counts differ by more than one (a silo joined): one replica goes from the fullest
/// silo to the emptiest that holds none of its partition, until every count is within one of the others'.</item>
/// </list>
/// A partition with a move under way is left alone (one move per partition keeps each group at most one replica
/// above its factor, and never below it); its moving replica already counts on its target silo. Replicas homed on
/// silos that are not active (down, or not yet back) stay: they run elsewhere until their silo returns with their
/// data. Replicas of the metadata group are not counted: it is placed by its own rule and never moved.
/// </summary>
internal static class ReplicaMovePlanner
{
    /// <summary>One planned move: slot <see cref="From"/> of the partition goes to <see cref="Target"/> as slot <see cref="To"/>.</summary>
    public readonly record struct Planned(ulong Log, int Partition, int From, int To, string Target);

    /// <summary>
    /// Up to <paramref name="budget"/> moves over <paramref name="logs"/>, given the active silos' endpoints and which of
    /// them drain (each endpoint once; <paramref name="draining"/> ⊆ <paramref name="active"/>).
    /// </summary>
    public static List<Planned> Plan(IReadOnlyList<MetadataLog> logs, IReadOnlyCollection<string> active, IReadOnlySet<string> draining, int budget)
    {
        var planned = new List<Planned>();
        if (budget <= 0 || active.Count == 0)
        {
            return planned;
        }

        // Replicas per active silo; a moving replica counts where it goes.
        var counts = new SortedDictionary<string, int>(StringComparer.Ordinal);
        foreach (var silo in active)
        {
            counts[silo] = 0;
        }

        foreach (var log in logs)
        {
            if (log.Homes is not { } homes)
            {
                continue;
            }

            for (var p = 0; p < homes.Partitions; p++)
            {
                var moving = log.MoveIn(p);
                for (var slot = 0; slot < ReplicaGrainKey.MaxReplicationFactor; slot++)
                {
                    if (homes.Home(p, slot) is { } home && slot != moving?.From && counts.ContainsKey(home))
                    {
                        counts[home]++;
                    }
                }
            }
        }

        var busy = new HashSet<(ulong, int)>();
        Drain(logs, draining, counts, busy, planned, budget);
        Balance(logs, draining, counts, busy, planned, budget);
        return planned;
    }

    private static void Drain(IReadOnlyList<MetadataLog> logs, IReadOnlySet<string> draining, SortedDictionary<string, int> counts,
        HashSet<(ulong, int)> busy, List<Planned> planned, int budget)
    {
        if (draining.Count == 0)
        {
            return;
        }

        foreach (var (log, p, homes) in Partitions(logs))
        {
            for (var slot = 0; slot < ReplicaGrainKey.MaxReplicationFactor && planned.Count < budget; slot++)
            {
                if (homes.Home(p, slot) is { } home && draining.Contains(home) && !busy.Contains((log.Info.Id, p)) &&
                    Emptiest(counts, draining, homes, p, exceptAbove: int.MaxValue) is { } target &&
                    TryPlan(log, p, slot, target, busy, planned))
                {
                    counts[home]--;
                    counts[target]++;
                }
            }
        }
    }

    private static void Balance(IReadOnlyList<MetadataLog> logs, IReadOnlySet<string> draining, SortedDictionary<string, int> counts,
        HashSet<(ulong, int)> busy, List<Planned> planned, int budget)
    {
        while (planned.Count < budget)
        {
            string? fullest = null;
            foreach (var (silo, count) in counts)
            {
                if (!draining.Contains(silo) && (fullest is null || count > counts[fullest]))
                {
                    fullest = silo;
                }
            }

            if (fullest is null)
            {
                return;
            }

            // The first partition (in log id, partition order) with a replica on the fullest silo that some silo holding
            // at least two fewer replicas, and none of the partition, can take.
            var moved = false;
            foreach (var (log, p, homes) in Partitions(logs))
            {
                var slot = homes.SlotOn(p, fullest);
                if (slot < 0 || busy.Contains((log.Info.Id, p)) ||
                    Emptiest(counts, draining, homes, p, exceptAbove: counts[fullest] - 2) is not { } target ||
                    !TryPlan(log, p, slot, target, busy, planned))
                {
                    continue;
                }

                counts[fullest]--;
                counts[target]++;
                moved = true;
                break;
            }

            if (!moved)
            {
                return;
            }
        }
    }

    /// <summary>The non-draining active silo with the fewest replicas, at most <paramref name="exceptAbove"/>, holding no replica of partition <paramref name="p"/>.</summary>
    private static string? Emptiest(SortedDictionary<string, int> counts, IReadOnlySet<string> draining, Placement.ReplicaHomes homes, int p, int exceptAbove)
    {
        string? emptiest = null;
        foreach (var (silo, count) in counts)
        {
            if (!draining.Contains(silo) && count <= exceptAbove && homes.SlotOn(p, silo) < 0 && (emptiest is null || count < counts[emptiest]))
            {
                emptiest = silo;
            }
        }

        return emptiest;
    }

    private static bool TryPlan(MetadataLog log, int p, int from, string target, HashSet<(ulong, int)> busy, List<Planned> planned)
    {
        var homes = log.Homes!;
        for (var to = 0; to < ReplicaGrainKey.MaxReplicationFactor; to++)
        {
            if (homes.Home(p, to) is null)
            {
                busy.Add((log.Info.Id, p));
                planned.Add(new Planned(log.Info.Id, p, from, to, target));
                return true;
            }
        }

        return false; // every slot is taken (a factor of 7): such a partition cannot move a replica learner-first
    }

    /// <summary>Every partition of an active log with recorded homes and no move under way, in log id then partition order.</summary>
    private static IEnumerable<(MetadataLog Log, int Partition, Placement.ReplicaHomes Homes)> Partitions(IReadOnlyList<MetadataLog> logs)
    {
        foreach (var log in logs.OrderBy(l => l.Info.Id))
        {
            if (log.Homes is not { } homes || log.Info.State != LogState.Active)
            {
                continue;
            }

            for (var p = 0; p < homes.Partitions; p++)
            {
                if (log.MoveIn(p) is null)
                {
                    yield return (log, p, homes);
                }
            }
        }
    }
}
