using Pyralog.Grains.Diagnostics;
using Pyralog.Grains.Replication;

namespace Pyralog.Grains.Tests.Replication;

/// <summary>Which leaderships one silo hands to which silo in a round of leader balancing (LeaderBalancing's rules).</summary>
public sealed class LeadershipViewTests
{
    [Fact]
    public void A_silo_leading_everything_hands_each_other_silo_its_share_and_keeps_the_mean()
    {
        var view = new LeadershipView(Leading(0, 6), [Following(1, 0, 6), Following(2, 0, 6)]);

        Assert.True(view.CanHandOver());
        Assert.Equal(2.0, view.Mean);
        var plan = view.PlanHandOvers(maxMoves: 8);

        // Least loaded first, counted as the plan goes: silo 1, silo 2, silo 1, silo 2; this silo keeps two.
        Assert.Equal(
            [("7/0/0", false, 1), ("7/1/0", false, 2), ("7/2/0", false, 1), ("7/3/0", false, 2)],
            plan);
    }

    [Fact]
    public void Counts_within_one_of_each_other_are_left_alone()
    {
        var view = new LeadershipView(Leading(0, 3), [Following(1, 0, 3, leaders: 2), Following(2, 0, 3, leaders: 2)]);

        Assert.False(view.CanHandOver());
        Assert.Empty(view.PlanHandOvers(maxMoves: 8));
    }

    [Fact]
    public void A_silo_with_no_follower_of_this_silos_groups_is_never_a_target()
    {
        // Silo 2 leads nothing but follows none of these groups (a replica away from home is not listed as a follower).
        var view = new LeadershipView(Leading(0, 4), [Following(1, 0, 4, leaders: 3), new SiloLeadership([], ["9/0/1"])]);

        Assert.False(view.CanHandOver());
        Assert.Empty(view.PlanHandOvers(maxMoves: 8));
    }

    [Fact]
    public void Hand_overs_per_round_stop_at_the_limit()
    {
        var view = new LeadershipView(Leading(0, 9), [Following(1, 0, 9), Following(2, 0, 9)]);

        Assert.Equal(2, view.PlanHandOvers(maxMoves: 2).Count);
    }

    [Fact]
    public void Two_silos_above_the_mean_each_give_the_empty_silo_only_their_share()
    {
        // 5, 5 and 0: the mean is 3.3; both loaded silos may hand to the empty one, so each gives it two, not three.
        var view = new LeadershipView(Leading(0, 5), [Following(1, 10, 5, leaders: 5), Following(2, 0, 5)]);

        var plan = view.PlanHandOvers(maxMoves: 8);

        Assert.Equal([("7/0/0", false, 2), ("7/1/0", false, 2)], plan);
    }

    [Fact]
    public void A_draining_silo_hands_every_leadership_it_can_whatever_the_others_lead()
    {
        // Both others lead more than this one: no balancing reason, but a drain hands everything over, to the least
        // loaded silo that follows the group first (counted as the plan goes; silo 2 follows only partitions 0 and 1).
        var view = new LeadershipView(Leading(0, 3), [Following(1, 10, 3, leaders: 5), Following(2, 0, 2, leaders: 4)], draining: true);

        Assert.True(view.CanHandOver());
        Assert.Equal([("7/0/0", false, 2), ("7/1/0", false, 1), ("7/2/0", false, 1)], view.PlanHandOvers(maxMoves: 8));
    }

    [Fact]
    public void A_draining_silo_is_never_handed_a_leadership()
    {
        // Silo 1 leads nothing but drains; silo 2 leads within one of this silo.
        var view = new LeadershipView(Leading(0, 6), [Following(1, 0, 6) with { Draining = true }, Following(2, 0, 6, leaders: 5)]);

        Assert.False(view.CanHandOver());
        Assert.Empty(view.PlanHandOvers(maxMoves: 8));
    }

    [Fact]
    public void The_metadata_group_is_balanced_like_a_partition()
    {
        var view = new LeadershipView([("0/0/0", true), ("7/0/0", false)], [Following(1, 0, 0), new SiloLeadership([], ["0/0/1"])]);

        Assert.Equal([("0/0/0", true, 1)], view.PlanHandOvers(maxMoves: 8));
    }

    /// <summary>This silo leads partitions 0..count−1 of log 7 as replica slot <paramref name="slot"/>.</summary>
    private static List<(string Key, bool Metadata)> Leading(int slot, int count) =>
        [.. Enumerable.Range(0, count).Select(p => ($"7/{p}/{slot}", false))];

    /// <summary>
    /// A silo following partitions 0..count−1 of log 7 as replica slot <paramref name="slot"/> and leading
    /// <paramref name="leaders"/> groups of log 8 (numbered from <paramref name="firstLed"/>).
    /// </summary>
    private static SiloLeadership Following(int slot, int firstLed, int count, int leaders = 0) =>
        new([.. Enumerable.Range(firstLed, leaders).Select(p => $"8/{p}/{slot}")], [.. Enumerable.Range(0, count).Select(p => $"7/{p}/{slot}")]);
}
