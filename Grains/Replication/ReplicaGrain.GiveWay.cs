using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Pyralog.Consensus;
using Pyralog.Grains.Diagnostics;
using Pyralog.Grains.Interfaces.Logs;

namespace Pyralog.Grains.Replication;

/*
 * Giving way to the incarnation a leaderless group counts.
 *
 * A slot runs as one activation at a time (one grain key), so a voter that moves (a stand-in going home) stops before
 * its next incarnation runs: until the leader replaces it in the configuration by the incarnation that now runs, the
 * group counts a voter that does not run, and tolerates no further loss. If another voter is lost in that window (the
 * process-cluster kill test: a stand-in handed off its leadership and went home, and a second later a silo holding
 * another voter was killed), the group has one running voter of three, no leader, and no way to elect one: the running
 * incarnation of the slot is not the one the configuration names, and nobody runs the one it names, although that
 * incarnation's data is intact on the silo it left.
 *
 * So a replica that has known no leader for LeaderlessReportTimeouts election timeouts (or run as long outside the
 * configuration: a new incarnation that the last voter left, unable to commit, cannot take in) asks its siblings which
 * incarnation of its slot they name as voter (SiblingConfigurations.NamedVoter: those whose logs are at least as up to
 * date agree on one other than its own), asks the live silos which of them holds that incarnation's state, and if one
 * does, migrates there (PinnedReplicas makes the placement director name that silo): its next activation reopens the
 * named incarnation, whose vote completes a majority. Nothing is lost by giving way: no election counts the incarnation
 * that gives way, and its data stays where it is. The named incarnation, once its group has a leader and every other
 * voter runs again, goes home through ReplicaHomecoming as before.
 */
internal abstract partial class ReplicaGrain
{
    // Invariant: true while one look for the named incarnation runs (one at a time per activation).
    private bool _givingWay;

    /// <summary>
    /// Called on each tick: after every run of LeaderlessReportTimeouts election timeouts without a leader, or outside the
    /// group's configuration, looks for the incarnation to give way to.
    /// </summary>
    private void GiveWayIfLongLeaderless()
    {
        if (Driver is { LongLeaderless: true } or { LongOutsideGroup: true } && !_givingWay)
        {
            _givingWay = true;
            _ = GiveWayAsync();
        }
    }

    private async Task GiveWayAsync()
    {
        try
        {
            if (Driver?.Node is not { } node || !SeeksNamedIncarnation(node))
            {
                return;
            }

            var statuses = await SiblingStatusesAsync(node);
            var named = SiblingConfigurations.NamedVoter(Replica, node.Incarnation, node.LastTerm, node.LastIndex, statuses);
            if (named == 0 || Array.Exists(statuses, s => s is { Role: ReplicaRole.Leader }))
            {
                return; // nothing to give way to, or a leader that takes this incarnation in (it replaces the named one)
            }

            var reports = ServiceProvider.GetRequiredService<SiloReportClient>();
            foreach (var member in ServiceProvider.GetRequiredService<IClusterMembershipService>().CurrentSnapshot.Members.Values)
            {
                if (member.Status != SiloStatus.Active || member.SiloAddress.Equals(_silo.SiloAddress))
                {
                    continue;
                }

                long held;
                try
                {
                    held = await reports.For(member.SiloAddress).HeldIncarnationAsync(LogId, Partition, Replica).WaitAsync(LeaveCheckTimeout, Time);
                }
                catch (Exception e) when (e is TimeoutException or OrleansException)
                {
                    continue;
                }

                if (held != named)
                {
                    continue;
                }

                if (Driver?.Node is not { } now || !SeeksNamedIncarnation(now))
                {
                    return; // a leader appeared meanwhile and took this incarnation in
                }

                Logger.LogWarning(
                    "Replica {Key} (incarnation {Incarnation}) gives way: its group, without a leader that takes it in, counts incarnation {Named} of this slot, whose data is on silo {Silo}",
                    Key, node.Incarnation, named, member.SiloAddress);
                ServiceProvider.GetRequiredService<PinnedReplicas>().Pin(Key, member.SiloAddress);
                MigrateOnIdle();
                return;
            }

            Logger.LogWarning(
                "Replica {Key} (incarnation {Incarnation}): its leaderless group counts incarnation {Named} of this slot, which no live silo holds",
                Key, node.Incarnation, named);
        }
        catch (Exception e)
        {
            Logger.LogWarning(e, "Replica {Key} could not look for the incarnation its leaderless group counts", Key);
        }
        finally
        {
            _givingWay = false;
        }
    }

    /// <summary>Whether this replica's group has not taken it in under a leader: it knows no leader, or is outside the configuration.</summary>
    private static bool SeeksNamedIncarnation(RaftNode node) => node.Leader == 0 || !node.IsMember;
}
