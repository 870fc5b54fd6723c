using Pyralog.Grains.Interfaces.Logs;
using Pyralog.Grains.Metadata;
using Pyralog.Grains.Placement;
using Pyralog.Grains.Replication;

namespace Pyralog.Grains.Tests.Replication;

/// <summary>
/// What the replica mover plans: drains first, then balance until every active silo holds within one of the others,
/// one move per partition, never onto a silo already holding the partition, never onto a draining silo, and nothing
/// for partitions with a move under way or replicas homed on silos that are not active.
/// </summary>
public sealed class ReplicaMovePlannerTests
{
    private static readonly HashSet<string> NoneDraining = [];

    [Fact]
    public void A_joining_silo_gets_replicas_from_the_fullest_silos_until_counts_are_within_one()
    {
        // 4 partitions of RF 3 on a, b, c: 12 replicas; with d joining, 3 each.
        var log = Log(1, ["a", "b", "c"], ["b", "c", "a"], ["c", "a", "b"], ["a", "c", "b"]);
        var silos = new[] { "a", "b", "c", "d" };
        var counts = Simulate([log], silos, NoneDraining, budget: 100, out var moves);
        Assert.Equal(3, moves.Count);
        Assert.All(moves, m => Assert.Equal("d", m.Target));
        Assert.Equal(3, moves.Select(m => m.Partition).Distinct().Count()); // one move per partition; the fourth keeps its silos
        Assert.All(counts.Values, c => Assert.Equal(3, c));
        Assert.All(moves, m => Assert.Equal(3, m.To)); // the first free slot
    }

    [Fact]
    public void The_budget_limits_the_moves_of_one_round_and_balanced_silos_plan_nothing()
    {
        var log = Log(1, ["a", "b", "c"], ["b", "c", "a"], ["c", "a", "b"], ["a", "c", "b"]);
        Assert.Single(ReplicaMovePlanner.Plan([log], ["a", "b", "c", "d"], NoneDraining, budget: 1));
        Assert.Empty(ReplicaMovePlanner.Plan([log], ["a", "b", "c"], NoneDraining, budget: 10));
        Assert.Empty(ReplicaMovePlanner.Plan([log], ["a", "b", "c", "d"], NoneDraining, budget: 0));
    }

    [Fact]
    public void A_draining_silo_gives_every_replica_to_the_emptiest_silo_without_one_of_its_partition()
    {
        var log = Log(1, ["a", "b", "c"], ["b", "c", "d"], ["c", "d", "a"], ["d", "a", "b"]);
        var draining = new HashSet<string> { "a" };
        var moves = ReplicaMovePlanner.Plan([log], ["a", "b", "c", "d"], draining, budget: 10);
        Assert.Equal(3, moves.Count);
        Assert.All(moves, m => Assert.Equal("a", log.Homes!.Home(m.Partition, m.From)));
        Assert.All(moves, m => Assert.Equal(-1, log.Homes!.SlotOn(m.Partition, m.Target)));
        Assert.DoesNotContain(moves, m => m.Target == "a");
    }

    [Fact]
    public void A_partition_with_a_move_under_way_is_left_alone_and_its_moving_replica_counts_on_its_target()
    {
        var homes = ReplicaHomes.Of([["a", "b", "c"], ["a", "b", "c"], ["a", "b", "c"]]).With(0, 3, "d");
        var log = new MetadataLog(Info(1, 3) with { SlotMasks = homes.SlotMasks() }, null, homes, [new ReplicaMove(0, 0, 3)]);
        var moves = ReplicaMovePlanner.Plan([log], ["a", "b", "c", "d"], NoneDraining, budget: 10);

        // Counts: a 2 (slot 0 of partition 0 is leaving), b 3, c 3, d 1 (the moving replica): one move, b's replica of
        // partition 1 (partition 0 is busy) to d, leaves 2, 2, 3, 2.
        var move = Assert.Single(moves);
        Assert.Equal(new ReplicaMovePlanner.Planned(1, 1, 1, 3, "d"), move);
    }

    [Fact]
    public void Replicas_homed_on_a_silo_that_is_not_active_stay_and_logs_without_homes_or_not_active_are_skipped()
    {
        var down = Log(1, ["a", "b", "x"], ["b", "x", "a"]);
        Assert.Empty(ReplicaMovePlanner.Plan([down], ["a", "b"], NoneDraining, budget: 10));

        var active = Log(2, ["a", "b", "c"], ["a", "b", "c"]);
        var creating = active with { Info = active.Info with { State = LogState.Creating } };
        var legacy = new MetadataLog(Info(3, 2), null);
        Assert.Empty(ReplicaMovePlanner.Plan([creating, legacy], ["a", "b", "c", "d"], NoneDraining, budget: 10));
    }

    [Fact]
    public void A_partition_using_every_slot_cannot_move_learner_first()
    {
        var log = Log(1, ["a", "b", "c", "d", "e", "f", "g"]);
        var draining = new HashSet<string> { "a" };
        Assert.Empty(ReplicaMovePlanner.Plan([log], ["a", "b", "c", "d", "e", "f", "g", "h"], draining, budget: 10));
    }

    /// <summary>Plans and applies moves round after round (each completing at once) until nothing is planned.</summary>
    private static Dictionary<string, int> Simulate(
        List<MetadataLog> logs, string[] silos, HashSet<string> draining, int budget, out List<ReplicaMovePlanner.Planned> all)
    {
        all = [];
        for (var round = 0; round < 100; round++)
        {
            var moves = ReplicaMovePlanner.Plan(logs, silos, draining, budget);
            if (moves.Count == 0)
            {
                break;
            }

            foreach (var m in moves)
            {
                var i = logs.FindIndex(l => l.Info.Id == m.Log);
                var homes = logs[i].Homes!.With(m.Partition, m.To, m.Target).With(m.Partition, m.From, null);
                logs[i] = logs[i] with { Homes = homes, Info = logs[i].Info with { SlotMasks = homes.SlotMasks() } };
            }

            all.AddRange(moves);
        }

        var counts = silos.ToDictionary(s => s, _ => 0);
        foreach (var log in logs)
        {
            for (var p = 0; p < log.Homes!.Partitions; p++)
            {
                foreach (var slot in log.Info.ReplicaSlots(p))
                {
                    counts[log.Homes.Home(p, slot)!]++;
                }
            }
        }

        return counts;
    }

    private static MetadataLog Log(ulong id, params string[][] homes)
    {
        var recorded = ReplicaHomes.Of(homes);
        return new MetadataLog(Info(id, homes.Length, homes[0].Length) with { SlotMasks = recorded.SlotMasks() }, null, recorded);
    }

    private static LogInfo Info(ulong id, int partitions, int rf = 3) => new(id, $"log{id}", partitions, rf, new LogSettings(), LogState.Active);
}
