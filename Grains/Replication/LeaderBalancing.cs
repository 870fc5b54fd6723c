using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Pyralog.Grains.Diagnostics;
using Pyralog.Grains.Hosting;
using Pyralog.Grains.Interfaces.Logs;

namespace Pyralog.Grains.Replication;

/*
 * Leader balancing: spreads the leaderships of the Raft groups (partitions and the metadata group) over the active silos
 * so that every silo leads within one of the mean. A leader does a partition's appends, its fsyncs and its followers'
 * replication; a silo that restarted or joined otherwise leads nothing until an election happens to land there.
 *
 * Each silo balances only what it leads: every LeaderBalanceInterval it reads the other active silos' leaderships
 * (SiloReportService.GetLeadershipAsync) and, while it leads at least two more groups than some silo that holds a
 * caught-up follower of one of its groups, hands that group's leadership to that follower (Raft leadership transfer:
 * the group stops taking proposals for about a round trip, so producers see a NotLeader redirect, never a failure).
 *
 * Why it converges without a coordinator: a hand-off goes only from a silo to one leading at least two fewer, so, taken
 * alone, every hand-off lowers the sum of squares of the silos' counts. Silos plan on the same round's counts, so two
 * may hand to one silo at once and overshoot it; each gives a silo at most its share of that silo's deficit below the
 * mean, which keeps an overshoot small, and the next rounds move it back, again only downhill. It stops when no pair of
 * silos sharing a group differs by two or more: with every group on every silo (RF = silos) that is within one
 * of the mean. A silo starts acting only on an imbalance it saw in two consecutive rounds, so elections, restarts and
 * moves in progress settle first; once it acts it keeps acting each round while the imbalance lasts (each round reads
 * the counts afresh, its own hand-overs included: a transfer takes a round trip, a round seconds). It hands over at
 * most LeaderBalanceMoves per round, so producers keep their latency. A silo that is not Active (joining, or draining
 * on its way out) is never given a leadership, and a follower away from its home silo is never picked (it is about
 * to leave and would hand the leadership on). A silo an operator drains (SiloMaintenance) is never given one either,
 * and hands away every leadership it wins in an election, each round, without waiting for a second round.
 */
internal sealed class LeaderBalancing(
    LeadershipReader reader, LocalReplicas replicas, SiloMaintenance maintenance, IOptions<PyralogOptions> options, TimeProvider time, ILogger<LeaderBalancing> logger)
    : SiloWatch
{
    private static readonly TimeSpan ReadTimeout = TimeSpan.FromSeconds(5);

    protected override async Task WatchAsync(CancellationToken stopping)
    {
        var interval = options.Value.Replication.LeaderBalanceInterval;
        if (interval == TimeSpan.Zero)
        {
            return;
        }

        using var timer = new PeriodicTimer(interval, time);
        var imbalancedBefore = false;
        try
        {
            while (await timer.WaitForNextTickAsync(stopping))
            {
                try
                {
                    var view = await reader.ReadAsync(maintenance.Draining, ReadTimeout, stopping);
                    var imbalanced = view is not null && view.CanHandOver();
                    if (imbalanced && (imbalancedBefore || view!.Draining))
                    {
                        await HandOverAsync(view!);
                    }

                    imbalancedBefore = imbalanced;
                }
                catch (Exception e) when (e is not OperationCanceledException || !stopping.IsCancellationRequested)
                {
                    logger.LogDebug(e, "Leader balancing skipped a round");
                    imbalancedBefore = false;
                }
            }
        }
        catch (OperationCanceledException) when (stopping.IsCancellationRequested)
        {
        }
    }

    private async Task HandOverAsync(LeadershipView view)
    {
        var handed = 0;
        foreach (var (key, metadata, replica) in view.PlanHandOvers(options.Value.Replication.LeaderBalanceMoves))
        {
            if (await replicas.Grain(key, metadata).HandLeadershipToAsync(replica))
            {
                handed++;
            }
        }

        if (handed > 0)
        {
            logger.LogInformation(
                "Handed the leadership of {Count} groups to less loaded silos (this silo led {Led}; mean {Mean:0.0} over {Silos} active silos)",
                handed, view.Leaders.Count, view.Mean, view.Silos);
        }
    }
}
